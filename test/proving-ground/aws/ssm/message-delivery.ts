/**
 * The service side of what a real Amazon SSM Agent talks to (`hostModel: "agent"`): the message delivery
 * service (`EC2WindowsMessageDeliveryService.*`, endpoint `ec2messages`) that hands Run Command to the
 * agent and takes its replies, and the agent's own SSM calls (`UpdateInstanceInformation`,
 * `ListInstanceAssociations`), which make its node Online and report its version.
 *
 * Shapes and behaviour come from the agent's source (github.com/aws/amazon-ssm-agent, vendored in
 * `../shared/vendor/amazon-ssm-agent`):
 * - `agent/runcommand/mds/service.go`: GetMessages {Destination, MessagesRequestId,
 *   VisibilityTimeoutInSeconds: 10} is a long poll under a 20 s client timeout (`Mds.StopTimeoutMillis`);
 *   AcknowledgeMessage, SendReply {MessageId, Payload, ReplyId}, FailMessage {MessageId, FailureType},
 *   DeleteMessage {MessageId}.
 * - `agent/runcommand/coremodule.go` processMessage: a message is validated (Topic, Destination, MessageId,
 *   CreatedDate), parsed (a parameter check failing there is answered with one SendReply, documentStatus
 *   Failed and the error as documentTraceOutput, and never acknowledged), acknowledged, answered
 *   InProgress, then run; topics `aws.ssm.sendCommand.*` and `aws.ssm.cancelCommand.*`.
 * - `agent/runcommand/contracts/model.go`: SendCommandPayload {Parameters, DocumentContent, CommandId,
 *   DocumentName, OutputS3KeyPrefix, OutputS3BucketName, CloudWatchLogGroupName, CloudWatchOutputEnabled};
 *   CancelPayload {CancelMessageId}; MessageId `aws.ssm.<CommandId>.<InstanceId>`; SendReplyPayload
 *   {additionalInfo, documentStatus, documentTraceOutput, runtimeStatus}.
 * - `agent/contracts/aggregator.go`: a reply about one step (while the document runs) carries that step's
 *   runtimeStatus (status, code, output, standardOutput, standardError, start and end times) with
 *   documentStatus InProgress; the final reply carries the document's status and runtimeStatus only for a
 *   one-step document. Skipped steps (precondition not met) count as a success.
 */
import { createHash, randomUUID } from 'node:crypto';
import { AwsError, isRecord, type Json, optionalString } from '../wire.ts';

/** How long GetMessages holds an empty answer: under the agent's 20 s client timeout. */
const LONG_POLL_MS = 15_000;

export interface AgentCheckIn {
  readonly instanceId: string;
  readonly agentVersion: string;
  readonly agentName: string;
  readonly platformType: string;
  readonly firstAt: Date;
  lastAt: Date;
}

/** What one step reported, as the agent's PluginRuntimeStatus carries it. */
export interface StepReport {
  readonly status: string;
  readonly code: number;
  readonly output: string;
  readonly standardOutput: string;
  readonly standardError: string;
  readonly startDateTime: string | undefined;
  readonly endDateTime: string | undefined;
}

/** What the service learns about one command message from the agent. */
export interface DeliveryEvents {
  /** The agent acknowledged the message: it has taken the command. */
  acknowledged(): void;
  /** A reply: the document's status, its trace output, and the steps it reports on. */
  replied(documentStatus: string, traceOutput: string, steps: ReadonlyMap<string, StepReport>): void;
}

interface Message {
  readonly id: string;
  readonly destination: string;
  readonly topic: string;
  readonly payload: string;
  readonly createdDate: string;
  /** Returned by GetMessages and not acknowledged: invisible until then (VisibilityTimeoutInSeconds). */
  invisibleUntil: number;
  acknowledged: boolean;
  readonly events: DeliveryEvents | undefined;
}

export interface CommandMessage {
  readonly commandId: string;
  readonly instanceId: string;
  readonly documentName: string;
  readonly documentContent: object;
  readonly parameters: ReadonlyMap<string, readonly string[]>;
}

export class MessageDelivery {
  private readonly messages = new Map<string, Message>();
  private readonly waiters = new Map<string, Set<() => void>>();
  private readonly checkIns = new Map<string, AgentCheckIn>();
  private closed = false;

  constructor(private readonly region: string) {}

  /** The node's agent as it last reported itself, or undefined before its first check-in. */
  checkIn(instanceId: string): AgentCheckIn | undefined {
    return this.checkIns.get(instanceId);
  }

  /** Forgets a node's check-in (its instance stopped: the next agent start checks in anew). */
  forget(instanceId: string): void {
    this.checkIns.delete(instanceId);
  }

  /** Queues a SendCommand for the node's agent; `events` hears what the agent does with it. */
  sendCommand(message: CommandMessage, events: DeliveryEvents): string {
    const parameters: Record<string, string | readonly string[]> = {};
    for (const [name, values] of message.parameters)
      parameters[name] = values.length === 1 ? (values[0] ?? '') : values;
    const payload = JSON.stringify({
      Parameters: parameters,
      DocumentContent: message.documentContent,
      CommandId: message.commandId,
      DocumentName: message.documentName,
      OutputS3KeyPrefix: '',
      OutputS3BucketName: '',
      CloudWatchLogGroupName: '',
      CloudWatchOutputEnabled: 'false',
    });
    const id = `aws.ssm.${message.commandId}.${message.instanceId}`;
    this.enqueue({ id, destination: message.instanceId, topic: this.topic('sendCommand'), payload, events });
    return id;
  }

  /** Queues the cancel message the service sends for a command the agent has taken. */
  cancelCommand(commandMessageId: string, instanceId: string): void {
    const payload = JSON.stringify({ CancelMessageId: commandMessageId });
    const id = `aws.ssm.${randomUUID()}.${instanceId}`;
    this.enqueue({
      id,
      destination: instanceId,
      topic: this.topic('cancelCommand'),
      payload,
      events: undefined,
    });
  }

  /** Takes back a message the agent has not acknowledged (its delivery timed out or it was cancelled). */
  withdraw(messageId: string): boolean {
    const m = this.messages.get(messageId);
    if (m === undefined || m.acknowledged) return false;
    this.messages.delete(messageId);
    return true;
  }

  close(): void {
    this.closed = true;
    for (const set of this.waiters.values()) for (const wake of set) wake();
    this.waiters.clear();
  }

  /** The agent-facing operations; undefined for an operation this service does not have. */
  async handle(operation: string, input: Json): Promise<Json | undefined> {
    switch (operation) {
      case 'GetMessages':
        return this.getMessages(input);
      case 'AcknowledgeMessage':
        return this.acknowledge(input);
      case 'SendReply':
        return this.sendReply(input);
      case 'FailMessage':
      case 'DeleteMessage':
        this.messages.delete(required(input, 'MessageId'));
        return {};
      default:
        return undefined;
    }
  }

  /** The agent's own SSM calls; undefined for any other operation. */
  handleSsm(operation: string, input: Json): Json | undefined {
    if (operation === 'UpdateInstanceInformation') {
      const instanceId = required(input, 'InstanceId');
      const now = new Date();
      const known = this.checkIns.get(instanceId);
      if (known) known.lastAt = now;
      else {
        this.checkIns.set(instanceId, {
          instanceId,
          agentVersion: required(input, 'AgentVersion'),
          agentName: optionalString(input, 'AgentName') ?? '',
          platformType: optionalString(input, 'PlatformType') ?? '',
          firstAt: now,
          lastAt: now,
        });
      }
      return {};
    }
    if (operation === 'ListInstanceAssociations') return { Associations: [] };
    return undefined;
  }

  private topic(kind: 'sendCommand' | 'cancelCommand'): string {
    // e.g. aws.ssm.sendCommand.eu.west.1.1 (agent/runcommand/testdata, sampleGetMessagesResp.json)
    return `aws.ssm.${kind}.${this.region.replaceAll('-', '.')}.1`;
  }

  private enqueue(m: Omit<Message, 'createdDate' | 'invisibleUntil' | 'acknowledged'>): void {
    this.messages.set(m.id, {
      ...m,
      createdDate: new Date().toISOString(),
      invisibleUntil: 0,
      acknowledged: false,
    });
    for (const wake of this.waiters.get(m.destination) ?? []) wake();
  }

  private touch(instanceId: string): void {
    const known = this.checkIns.get(instanceId);
    if (known) known.lastAt = new Date();
  }

  private visibleFor(destination: string): Message[] {
    const now = Date.now();
    return [...this.messages.values()].filter(
      (m) => m.destination === destination && !m.acknowledged && m.invisibleUntil <= now,
    );
  }

  private async getMessages(input: Json): Promise<Json> {
    const destination = required(input, 'Destination');
    const requestId = required(input, 'MessagesRequestId');
    const visibility =
      typeof input.VisibilityTimeoutInSeconds === 'number' ? input.VisibilityTimeoutInSeconds : 10;
    this.touch(destination);
    let ready = this.visibleFor(destination);
    if (ready.length === 0 && !this.closed) {
      // Long poll: answer as soon as a message arrives (or becomes visible again), else empty.
      await new Promise<void>((resolve) => {
        const set = this.waiters.get(destination) ?? new Set();
        this.waiters.set(destination, set);
        const done = () => {
          clearTimeout(timer);
          clearInterval(recheck);
          set.delete(done);
          resolve();
        };
        const timer = setTimeout(done, LONG_POLL_MS);
        const recheck = setInterval(() => {
          if (this.visibleFor(destination).length > 0) done();
        }, 500);
        set.add(done);
      });
      ready = this.visibleFor(destination);
    }
    const until = Date.now() + visibility * 1000;
    for (const m of ready) m.invisibleUntil = until;
    return {
      Destination: destination,
      MessagesRequestId: requestId,
      Messages: ready.map((m) => ({
        CreatedDate: m.createdDate,
        Destination: m.destination,
        MessageId: m.id,
        Payload: m.payload,
        PayloadDigest: createHash('sha256').update(m.payload).digest('hex'),
        Topic: m.topic,
      })),
    };
  }

  private acknowledge(input: Json): Json {
    const m = this.messages.get(required(input, 'MessageId'));
    if (m !== undefined && !m.acknowledged) {
      m.acknowledged = true;
      this.touch(m.destination);
      m.events?.acknowledged();
    }
    return {};
  }

  private sendReply(input: Json): Json {
    const messageId = required(input, 'MessageId');
    required(input, 'ReplyId');
    const payload = parsePayload(required(input, 'Payload'));
    const m = this.messages.get(messageId);
    if (m === undefined) return {}; // a reply about a message that is gone (withdrawn, or a cancel's own)
    this.touch(m.destination);
    const steps = new Map<string, StepReport>();
    const runtime = isRecord(payload.runtimeStatus) ? payload.runtimeStatus : {};
    for (const [name, raw] of Object.entries(runtime)) {
      if (!isRecord(raw)) continue;
      steps.set(name, {
        status: text(raw.status),
        code: typeof raw.code === 'number' ? raw.code : 0,
        output: text(raw.output),
        standardOutput: text(raw.standardOutput),
        standardError: text(raw.standardError),
        startDateTime: typeof raw.startDateTime === 'string' ? raw.startDateTime : undefined,
        endDateTime: typeof raw.endDateTime === 'string' ? raw.endDateTime : undefined,
      });
    }
    const status = text(payload.documentStatus);
    m.events?.replied(status, text(payload.documentTraceOutput), steps);
    if (TERMINAL_DOCUMENT_STATUSES.has(status)) this.messages.delete(messageId);
    return {};
  }
}

const TERMINAL_DOCUMENT_STATUSES = new Set([
  'Success',
  'Failed',
  'TimedOut',
  'Cancelled',
  'SuccessAndReboot',
]);

function required(input: Json, key: string): string {
  const v = input[key];
  if (typeof v !== 'string' || v === '') {
    throw new AwsError(
      'ValidationException',
      400,
      `1 validation error detected: Value null at '${lowerFirst(key)}' failed to satisfy constraint: Member must not be null`,
    );
  }
  return v;
}

function lowerFirst(s: string): string {
  return s.charAt(0).toLowerCase() + s.slice(1);
}

function parsePayload(raw: string): Json {
  try {
    const parsed: unknown = JSON.parse(raw);
    if (isRecord(parsed)) return parsed;
  } catch {
    // fall through
  }
  throw new AwsError('ValidationException', 400, 'The reply payload is not a JSON object');
}

function text(v: unknown): string {
  return typeof v === 'string' ? v : '';
}
