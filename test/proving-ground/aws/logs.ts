/**
 * CloudWatch Logs for the proving ground: the log groups the fake Lambda writes its runs to,
 * and `FilterLogEvents` over them (AWS JSON 1.1, `X-Amz-Target: Logs_20140328.FilterLogEvents`,
 * botocore `logs/2014-03-28/service-2.json`).
 *
 * Filter patterns: the empty pattern, a quoted or bare term ("ERROR", ERROR), and JSON
 * patterns `{ $.a.b = "x" && $.c != 3 }` (string, number, `*` wildcard values; `&&` and `||`
 * without parentheses). A JSON pattern matches only events whose message is a JSON object,
 * as in CloudWatch Logs; anything else is answered `InvalidParameterException`, so a client
 * never sees results for a pattern the fake does not understand.
 * https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/FilterAndPatternSyntax.html
 */
import { randomUUID } from 'node:crypto';
import { AwsError, isRecord } from './wire.ts';

export interface StoredEvent {
  readonly logStreamName: string;
  readonly timestamp: number;
  readonly ingestionTime: number;
  readonly message: string;
  readonly eventId: string;
}

/** The model's EventsLimit: 1 to 10,000, default 10,000. */
const MAX_LIMIT = 10_000;

export class LogsService {
  readonly #groups = new Map<string, StoredEvent[]>();

  /** Creates the group if needed and appends messages to one stream. */
  append(logGroupName: string, logStreamName: string, messages: readonly string[], at = Date.now()): void {
    const events = this.#groups.get(logGroupName) ?? [];
    this.#groups.set(logGroupName, events);
    for (const [i, message] of messages.entries()) {
      events.push({
        logStreamName,
        timestamp: at + i,
        ingestionTime: Date.now(),
        message,
        eventId: randomUUID().replace(/-/g, ''),
      });
    }
  }

  createLogGroup(logGroupName: string): void {
    if (!this.#groups.has(logGroupName)) this.#groups.set(logGroupName, []);
  }

  handle(operation: string, input: Record<string, unknown>): unknown {
    if (operation === 'FilterLogEvents') return this.#filterLogEvents(input);
    return undefined;
  }

  #filterLogEvents(input: Record<string, unknown>): unknown {
    const name = input.logGroupName ?? input.logGroupIdentifier;
    if (input.logGroupName !== undefined && input.logGroupIdentifier !== undefined) {
      throw invalid('LogGroup name and LogGroup ARN are mutually exclusive parameters.');
    }
    if (typeof name !== 'string' || name === '')
      throw invalid('Either logGroupName or logGroupIdentifier is required.');
    const groupName = name.startsWith('arn:') ? (name.split(':log-group:')[1] ?? '') : name;
    const events = this.#groups.get(groupName);
    if (!events)
      throw new AwsError(
        'ResourceNotFoundException',
        400,
        'The specified log group does not exist.',
        'message',
      );
    const limit = input.limit === undefined ? MAX_LIMIT : Number(input.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) {
      throw new AwsError(
        'ValidationException',
        400,
        `1 validation error detected: Value '${String(input.limit)}' at 'limit' failed to satisfy constraint: Member must have value less than or equal to ${MAX_LIMIT}`,
        'message',
      );
    }
    const matches = compileFilterPattern(typeof input.filterPattern === 'string' ? input.filterPattern : '');
    const start = typeof input.startTime === 'number' ? input.startTime : 0;
    const end = typeof input.endTime === 'number' ? input.endTime : Number.POSITIVE_INFINITY;
    const streams = Array.isArray(input.logStreamNames) ? new Set(input.logStreamNames) : undefined;
    const selected = events
      .filter((e) => e.timestamp >= start && e.timestamp <= end)
      .filter((e) => !streams || streams.has(e.logStreamName))
      .filter((e) => matches(e.message))
      .sort((a, b) => a.timestamp - b.timestamp);
    const offset = decodeToken(input.nextToken);
    const page = selected.slice(offset, offset + limit);
    const next = offset + page.length;
    return {
      events: page,
      searchedLogStreams: [],
      ...(next < selected.length ? { nextToken: encodeToken(next) } : {}),
    };
  }
}

function invalid(message: string): AwsError {
  return new AwsError('InvalidParameterException', 400, message, 'message');
}

function encodeToken(offset: number): string {
  return Buffer.from(JSON.stringify({ offset })).toString('base64');
}

function decodeToken(token: unknown): number {
  if (token === undefined) return 0;
  try {
    const parsed: unknown = JSON.parse(Buffer.from(String(token), 'base64').toString('utf8'));
    if (isRecord(parsed) && Number.isInteger(parsed.offset)) return parsed.offset as number;
  } catch {
    // fall through
  }
  throw invalid('The specified nextToken is invalid.');
}

type Matcher = (message: string) => boolean;

/** The supported subset of CloudWatch Logs filter pattern syntax. */
export function compileFilterPattern(pattern: string): Matcher {
  const text = pattern.trim();
  if (text === '') return () => true;
  if (text.startsWith('{')) return compileJsonPattern(text);
  const term = /^"([^"]*)"$/.exec(text)?.[1] ?? (/^[A-Za-z0-9_.:/-]+$/.test(text) ? text : undefined);
  if (term === undefined) throw invalid('Invalid filter pattern');
  return (message) => message.includes(term);
}

const CONDITION =
  /^\$\.([A-Za-z0-9_.]+)\s*(=|!=)\s*("(?:[^"\\]|\\.)*"|-?\d+(?:\.\d+)?|\*|[A-Za-z0-9_.:*-]+)$/;

function compileJsonPattern(text: string): Matcher {
  const body = /^\{\s*(.*?)\s*\}$/s.exec(text)?.[1];
  if (!body || body.includes('(')) throw invalid('Invalid filter pattern');
  const anyOf = body.split('||').map((alternative) =>
    alternative.split('&&').map((condition) => {
      const m = CONDITION.exec(condition.trim());
      if (!m) throw invalid('Invalid filter pattern');
      const [, path = '', operator, raw = ''] = m;
      const expected = raw.startsWith('"') ? (JSON.parse(raw) as string) : raw;
      const wildcard = new RegExp(`^${expected.split('*').map(escapeRegExp).join('.*')}$`);
      return (json: Record<string, unknown>) => {
        const value = path.split('.').reduce<unknown>((v, key) => (isRecord(v) ? v[key] : undefined), json);
        if (value === undefined || (typeof value === 'object' && value !== null)) return false;
        const equal = wildcard.test(String(value));
        return operator === '=' ? equal : !equal;
      };
    }),
  );
  return (message) => {
    let json: unknown;
    try {
      json = JSON.parse(message);
    } catch {
      return false;
    }
    if (!isRecord(json)) return false;
    const record = json;
    return anyOf.some((all) => all.every((condition) => condition(record)));
  };
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
