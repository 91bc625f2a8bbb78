/**
 * Turns whatever invoked the function into a validated request (the payloads of docs/operating.md "Invoking it").
 * Console users type these payloads by hand, so every rejection names the field and
 * lists what is accepted.
 */

export type Trigger = 'schedule' | 'direct' | 'instance-start';

export interface ReconcileRequest {
  readonly trigger: Trigger;
  readonly dryRun: boolean;
  /** Undefined: every managed host. Otherwise only these (still only if tagged). */
  readonly instanceIds?: readonly string[];
  /** Instance-start runs wait for the SSM agent to come online. */
  readonly waitForOnline: boolean;
  /**
   * SQS records that could not be used (not a running-state notification), reported and
   * returned as batch item failures so SQS moves them to the dead-letter queue.
   */
  readonly rejectedRecords?: readonly RejectedRecord[];
  /** Every SQS message id of the batch, so a run that failed as a whole can return them all. */
  readonly messageIds?: readonly string[];
  /** Each usable record's message id and the instance it says started. */
  readonly startRecords?: readonly StartRecord[];
}

export interface StartRecord {
  readonly messageId: string;
  readonly instanceId: string;
}

export interface RejectedRecord {
  readonly messageId: string;
  readonly problem: string;
}

export const ACCEPTED_EVENTS = [
  '{}  (reconcile every managed host)',
  '{"dryRun": true}  (observe and plan, change nothing)',
  '{"instanceIds": ["i-0123456789abcdef0", "mi-0123456789abcdef0"]}  (only these; may add "dryRun")',
  'an EventBridge or EventBridge Scheduler scheduled event',
  'an EventBridge "EC2 Instance State-change Notification" with state "running"',
  'an SQS event whose records each carry such a notification',
].join('\n  ');

export class InvalidEventError extends Error {
  override readonly name = 'InvalidEventError';
  constructor(
    readonly field: string,
    readonly problem: string,
  ) {
    super(`Invalid event: ${field}: ${problem}.\nAccepted events:\n  ${ACCEPTED_EVENTS}`);
  }
}

/** EC2 ids are i- plus 8 or 17 hex digits; SSM hybrid nodes are mi- plus 17. */
export const INSTANCE_ID_PATTERN = /^(?:i-(?:[0-9a-f]{8}|[0-9a-f]{17})|mi-[0-9a-f]{17})$/;
/** One console run covers at most this many named hosts; a full run has no limit. */
export const MAX_NAMED_INSTANCES = 1000;

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string')
    return `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`;
  return typeof value === 'object' ? 'an object' : value === undefined ? 'nothing' : `a ${typeof value}`;
}

function instanceIds(value: unknown, field: string): string[] {
  if (!Array.isArray(value))
    throw new InvalidEventError(field, `expected an array of instance ids, got ${describe(value)}`);
  if (value.length === 0) throw new InvalidEventError(field, 'expected at least one instance id');
  if (value.length > MAX_NAMED_INSTANCES) {
    throw new InvalidEventError(field, `at most ${MAX_NAMED_INSTANCES} ids per run, got ${value.length}`);
  }
  value.forEach((id, i) => {
    if (typeof id !== 'string' || !INSTANCE_ID_PATTERN.test(id)) {
      throw new InvalidEventError(
        `${field}[${i}]`,
        `expected an EC2 id (i- and 8 or 17 hex digits) or a managed node id (mi- and 17 hex digits), got ${describe(id)}`,
      );
    }
  });
  return [...new Set(value as string[])];
}

function stateChangeInstance(value: unknown, field: string): string {
  if (!isObject(value) || value['detail-type'] !== 'EC2 Instance State-change Notification') {
    throw new InvalidEventError(field, 'expected an "EC2 Instance State-change Notification"');
  }
  const detail = value.detail;
  if (!isObject(detail))
    throw new InvalidEventError(`${field}.detail`, `expected an object, got ${describe(detail)}`);
  if (detail.state !== 'running') {
    throw new InvalidEventError(
      `${field}.detail.state`,
      `only "running" is handled, got ${describe(detail.state)}`,
    );
  }
  const id = detail['instance-id'];
  if (typeof id !== 'string' || !INSTANCE_ID_PATTERN.test(id)) {
    throw new InvalidEventError(
      `${field}.detail.instance-id`,
      `expected an EC2 instance id, got ${describe(id)}`,
    );
  }
  return id;
}

/**
 * An SQS batch: a record whose body is not a running-state notification is set aside
 * (reported, and returned as a batch item failure), never failing the others. A record
 * that is not an SQS message at all means the event is not one SQS sends: rejected whole.
 */
function sqsBatch(records: unknown[]): {
  rejected: RejectedRecord[];
  messageIds: string[];
  started: StartRecord[];
} {
  if (records.length === 0) throw new InvalidEventError('Records', 'expected at least one record');
  const rejected: RejectedRecord[] = [];
  const messageIds: string[] = [];
  const started: StartRecord[] = [];
  records.forEach((record, i) => {
    const field = `Records[${i}]`;
    if (
      !isObject(record) ||
      record.eventSource !== 'aws:sqs' ||
      typeof record.body !== 'string' ||
      typeof record.messageId !== 'string' ||
      record.messageId.length === 0
    ) {
      throw new InvalidEventError(field, 'expected an SQS record with a messageId and a string body');
    }
    const messageId = record.messageId;
    messageIds.push(messageId);
    try {
      let body: unknown;
      try {
        body = JSON.parse(record.body);
      } catch {
        throw new InvalidEventError(`${field}.body`, 'is not JSON');
      }
      started.push({ messageId, instanceId: stateChangeInstance(body, `${field}.body`) });
    } catch (error) {
      if (!(error instanceof InvalidEventError)) throw error;
      rejected.push({ messageId, problem: `${error.field}: ${error.problem}` });
    }
  });
  return { rejected, messageIds, started };
}

const CONSOLE_FIELDS = ['dryRun', 'instanceIds'];

/** Validates an invocation payload; throws InvalidEventError, never partially accepts. */
export function parseEvent(event: unknown): ReconcileRequest {
  if (event === undefined || event === null)
    return { trigger: 'direct', dryRun: false, waitForOnline: false };
  if (!isObject(event))
    throw new InvalidEventError('(event)', `expected a JSON object, got ${describe(event)}`);

  if (Array.isArray(event.Records)) {
    const { rejected, messageIds, started } = sqsBatch(event.Records);
    return {
      trigger: 'instance-start',
      dryRun: false,
      instanceIds: [...new Set(started.map((r) => r.instanceId))],
      waitForOnline: true,
      messageIds,
      startRecords: started,
      ...(rejected.length > 0 ? { rejectedRecords: rejected } : {}),
    };
  }
  const detailType = event['detail-type'];
  if (detailType === 'Scheduled Event') return { trigger: 'schedule', dryRun: false, waitForOnline: false };
  if (detailType === 'EC2 Instance State-change Notification') {
    return {
      trigger: 'instance-start',
      dryRun: false,
      instanceIds: [stateChangeInstance(event, '(event)')],
      waitForOnline: true,
    };
  }
  if (detailType !== undefined) {
    throw new InvalidEventError(
      'detail-type',
      `${describe(detailType)} is not an event this function handles`,
    );
  }

  for (const key of Object.keys(event)) {
    if (!CONSOLE_FIELDS.includes(key)) {
      throw new InvalidEventError(key, `unknown field (accepted fields: ${CONSOLE_FIELDS.join(', ')})`);
    }
  }
  if (event.dryRun !== undefined && typeof event.dryRun !== 'boolean') {
    throw new InvalidEventError('dryRun', `expected true or false, got ${describe(event.dryRun)}`);
  }
  const dryRun = event.dryRun === true;
  if (event.instanceIds === undefined) return { trigger: 'direct', dryRun, waitForOnline: false };
  return {
    trigger: 'direct',
    dryRun,
    instanceIds: instanceIds(event.instanceIds, 'instanceIds'),
    waitForOnline: false,
  };
}
