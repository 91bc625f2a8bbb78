/**
 * AWS JSON 1.1 wire helpers: the error shapes and the Coral-style validation messages that SSM and
 * Secrets Manager answer with.
 *
 * Error body: HTTP status + `{"__type": "<Type>", "<Message|message>": "..."}` + header `x-amzn-errortype`.
 * The member that carries the text is the one the service model declares on the error shape
 * (botocore `ssm/2014-11-06/service-2.json`, `secretsmanager/2017-10-17/service-2.json`): modeled SSM and
 * Secrets Manager errors use `Message`; framework errors (throttling, validation, unknown operation) use
 * `message`. Some modeled SSM errors (InvocationDoesNotExist, InvalidCommandId, InvalidPluginName,
 * InvalidFilterKey) have no members at all, so their body is only `{"__type": ...}`.
 * https://docs.aws.amazon.com/systems-manager/latest/APIReference/CommonErrors.html
 */

export type MessageKey = 'Message' | 'message';

export class AwsError extends Error {
  readonly type: string;
  readonly status: number;
  readonly messageKey: MessageKey | undefined;

  constructor(type: string, status: number, message?: string, messageKey: MessageKey = 'Message') {
    super(message ?? type);
    this.type = type;
    this.status = status;
    this.messageKey = message === undefined ? undefined : messageKey;
  }

  body(): Record<string, string> {
    const body: Record<string, string> = { __type: this.type };
    if (this.messageKey !== undefined) body[this.messageKey] = this.message;
    return body;
  }
}

/** A modeled client error (HTTP 400) whose text sits in `Message`. */
export function modeled(type: string, message?: string): AwsError {
  return new AwsError(type, 400, message, 'Message');
}

/**
 * Coral's member-constraint failure, e.g.
 * `1 validation error detected: Value '100' at 'maxResults' failed to satisfy constraint: Member must
 * have value less than or equal to 50` (the exact text real SSM returns for an out-of-range MaxResults).
 */
export class Violations {
  private readonly items: string[] = [];

  add(value: unknown, path: string, constraint: string): void {
    this.items.push(`${describeValue(value)} at '${path}' failed to satisfy constraint: ${constraint}`);
  }

  get empty(): boolean {
    return this.items.length === 0;
  }

  throwIfAny(): void {
    if (this.items.length === 0) return;
    const n = this.items.length;
    const head = `${n} validation error${n === 1 ? '' : 's'} detected: `;
    throw new AwsError('ValidationException', 400, head + this.items.join('; '), 'message');
  }
}

function describeValue(value: unknown): string {
  if (value === undefined || value === null) return 'Value null';
  if (Array.isArray(value)) return `Value '[${value.map((v) => String(v)).join(', ')}]'`;
  return `Value '${String(value)}'`;
}

export const constraint = {
  notNull: 'Member must not be null',
  max: (n: number) => `Member must have value less than or equal to ${n}`,
  min: (n: number) => `Member must have value greater than or equal to ${n}`,
  maxLength: (n: number) => `Member must have length less than or equal to ${n}`,
  minLength: (n: number) => `Member must have length greater than or equal to ${n}`,
  pattern: (p: string) => `Member must satisfy regular expression pattern: ${p}`,
  enumSet: (values: readonly string[]) => `Member must satisfy enum value set: [${values.join(', ')}]`,
};

/** A request member of the wrong JSON type: Coral answers SerializationException. */
export function serializationError(message: string): AwsError {
  return new AwsError('SerializationException', 400, message, 'message');
}

export type Json = Record<string, unknown>;

export function optionalString(input: Json, key: string): string | undefined {
  const v = input[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw serializationError(`${key} must be a string`);
  return v;
}

export function optionalInt(input: Json, key: string): number | undefined {
  const v = input[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v)) throw serializationError(`${key} must be an integer`);
  return v;
}

export function optionalBool(input: Json, key: string): boolean | undefined {
  const v = input[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw serializationError(`${key} must be a boolean`);
  return v;
}

export function optionalList(input: Json, key: string): unknown[] | undefined {
  const v = input[key];
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v)) throw serializationError(`${key} must be a list`);
  return v;
}

export function isRecord(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** AWS JSON protocols carry timestamps as epoch seconds (fractional allowed). */
export function epochSeconds(date: Date): number {
  return date.getTime() / 1000;
}

/**
 * Opaque pagination tokens bound to the query they came from: a token replayed against a different
 * query, or any string we did not issue, is rejected like AWS does (InvalidNextToken).
 */
export function encodeToken(query: string, offset: number): string {
  return Buffer.from(JSON.stringify({ q: query, o: offset }), 'utf8').toString('base64');
}

export function decodeToken(token: string, query: string, total: number): number {
  const invalid = modeled('InvalidNextToken', "The specified token isn't valid.");
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(token, 'base64').toString('utf8'));
  } catch {
    throw invalid;
  }
  if (!isRecord(parsed) || parsed.q !== query || typeof parsed.o !== 'number') throw invalid;
  const offset = parsed.o;
  if (!Number.isInteger(offset) || offset < 0 || offset > total) throw invalid;
  return offset;
}
