/**
 * The SSM side of the proving ground: DescribeInstanceInformation, SendCommand, ListCommandInvocations,
 * GetCommandInvocation, plus the per-node command engine that drives `SimulatedFleet.runStep`.
 *
 * Limits and shapes come from the SSM API reference (each cited where it is enforced) and from the
 * service model botocore ships (`ssm/2014-11-06/service-2.json`).
 */
import { randomUUID } from 'node:crypto';
import type { SimulatedFleet, SimulatedNode, StepResult } from '../types.ts';
import {
  type CommandDocument,
  envVarParameters,
  parseDocument,
  resolveParameters,
  skipReason,
  stepTimeoutSeconds,
  substituteLines,
} from './documents.ts';
import { readPrefix, STDERR_CONTENT_LIMIT, STDOUT_CONTENT_LIMIT, truncateOutput } from './output.ts';
import {
  AwsError,
  constraint,
  decodeToken,
  encodeToken,
  epochSeconds,
  isRecord,
  type Json,
  modeled,
  optionalBool,
  optionalInt,
  optionalList,
  optionalString,
  serializationError,
  Violations,
} from './wire.ts';

/** InstanceId pattern of the SSM model (`(^i-(\w{8}|\w{17})$)|(^mi-\w{17}$)`). */
const INSTANCE_ID_PATTERN = '(^i-(\\w{8}|\\w{17})$)|(^mi-\\w{17}$)';
const INSTANCE_ID = new RegExp(INSTANCE_ID_PATTERN);
/**
 * First SSM Agent that sets `SSM_<Parameter>` for `interpolationType: ENV_VAR` parameters; older agents run
 * the script without them ("Parameter interpolation ... requires SSM Agent version 3.3.2746.0 or later",
 * https://docs.aws.amazon.com/systems-manager/latest/userguide/documents-syntax-data-elements-parameters.html).
 */
export const ENV_VAR_AGENT_VERSION = '3.3.2746.0';
/** What a node reports when it does not say: a current agent. */
export const DEFAULT_AGENT_VERSION = ENV_VAR_AGENT_VERSION;
/** The version every proving-ground document is at (created once, never updated). */
const DOCUMENT_VERSION = '1';
/** How often a Pending invocation looks whether its node can take it. */
const DELIVERY_POLL_MS = 250;

type InvocationStatus =
  | 'Pending'
  | 'InProgress'
  | 'Delayed'
  | 'Success'
  | 'Failed'
  | 'TimedOut'
  | 'Cancelled'
  | 'Cancelling';

interface PluginState {
  readonly name: string;
  readonly action: string;
  readonly script: string;
  readonly timeoutSeconds: number;
  readonly skipMessage: string | undefined;
  status: InvocationStatus;
  statusDetails: string;
  responseCode: number;
  start: Date | undefined;
  end: Date | undefined;
  stdout: string;
  stderr: string;
}

interface InvocationState {
  readonly commandId: string;
  readonly instanceId: string;
  readonly instanceName: string;
  readonly requested: Date;
  status: InvocationStatus;
  statusDetails: string;
  responseCode: number;
  plugins: PluginState[];
  /** Aborts the step running now (CancelCommand). */
  running: AbortController | undefined;
  cancelRequested: boolean;
}

interface CommandState {
  readonly id: string;
  readonly documentName: string;
  readonly comment: string;
  readonly parameters: Record<string, readonly string[]>;
  readonly instanceIds: readonly string[];
  readonly requested: Date;
  readonly timeoutSeconds: number;
  readonly expiresAfter: Date;
  /** Eventual consistency: before this the command and its invocations are not visible. */
  readonly visibleAt: Date;
  readonly invocations: InvocationState[];
}

export interface SsmOptions {
  readonly fleet: SimulatedFleet;
  readonly documents: ReadonlyMap<string, object>;
  readonly region: string;
  /** How long an online node's invocation stays Pending before the agent picks it up (drawn per invocation). */
  readonly deliveryDelayMs: number | (() => number);
  /** How long after SendCommand the command stays invisible to the List/Get operations. */
  readonly consistencyDelayMs: number;
}

export class SsmService {
  private readonly documents = new Map<string, CommandDocument>();
  private readonly commands: CommandState[] = [];
  private readonly running = new Set<Promise<void>>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly cancels = new Map<NodeJS.Timeout, () => void>();
  private readonly started = new Date();
  private closed = false;

  constructor(private readonly options: SsmOptions) {
    for (const [name, content] of options.documents) this.documents.set(name, parseDocument(name, content));
  }

  handle(operation: string, input: Json): unknown {
    switch (operation) {
      case 'DescribeInstanceInformation':
        return this.describeInstanceInformation(input);
      case 'SendCommand':
        return this.sendCommand(input);
      case 'ListCommandInvocations':
        return this.listCommandInvocations(input);
      case 'GetCommandInvocation':
        return this.getCommandInvocation(input);
      case 'ListCommands':
        return this.listCommands(input);
      case 'CancelCommand':
        return this.cancelCommand(input);
      default:
        return undefined;
    }
  }

  /** Resolves once every invocation started so far is terminal (including ones that start meanwhile). */
  async idle(): Promise<void> {
    while (this.running.size > 0) await Promise.allSettled([...this.running]);
  }

  close(): void {
    this.closed = true;
    for (const t of this.timers) {
      clearTimeout(t);
      this.cancels.get(t)?.();
    }
    this.timers.clear();
    this.cancels.clear();
  }

  // ---------------------------------------------------------------- DescribeInstanceInformation

  /** https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_DescribeInstanceInformation.html */
  private describeInstanceInformation(input: Json): Json {
    const v = new Violations();
    const maxResults = optionalInt(input, 'MaxResults');
    // MaxResults: "Valid Range: Minimum value of 5. Maximum value of 50." (API_DescribeInstanceInformation)
    if (maxResults !== undefined && maxResults < 5) v.add(maxResults, 'maxResults', constraint.min(5));
    if (maxResults !== undefined && maxResults > 50) v.add(maxResults, 'maxResults', constraint.max(50));
    const filters = optionalList(input, 'Filters') ?? [];
    const legacy = optionalList(input, 'InstanceInformationFilterList') ?? [];
    const predicates = [...this.stringFilters(filters, v), ...this.legacyFilters(legacy, v)];
    v.throwIfAny();
    // "Attempting to use InstanceInformationFilterList and Filters leads to an exception error."
    // (InstanceInformationFilterList, API_DescribeInstanceInformation). AWS does not document the text;
    // the type is the framework's ValidationException, like the tag-mixing rule below.
    if (filters.length > 0 && legacy.length > 0) {
      throw new AwsError(
        'ValidationException',
        400,
        'Cannot use InstanceInformationFilterList and Filters in the same request.',
        'message',
      );
    }
    // Tag filters can't be combined with other filter keys: HTTP 400 ValidationException "Cannot mix tag or
    // inventory filter with any other filter." (reported verbatim in github.com/danmx/sigil/issues/61; the
    // Filters doc: "Use this Filters data type instead of InstanceInformationFilterList ... You can filter
    // based on tags" - https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_DescribeInstanceInformation.html).
    const keys = filters.map((f) => (isRecord(f) ? String(f.Key ?? '') : ''));
    const isTag = (k: string) => k.startsWith('tag:') || k === 'tag-key';
    if (keys.some(isTag) && keys.some((k) => !isTag(k))) {
      throw new AwsError(
        'ValidationException',
        400,
        'Cannot mix tag or inventory filter with any other filter.',
        'message',
      );
    }
    for (const p of predicates) p.validate?.();

    // Stopped and terminated instances are not listed at all; only running ones are, Online or
    // ConnectionLost (PingStatus, https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_InstanceInformation.html;
    // "Amazon EC2 instances that are stopped aren't listed", fleet-manager troubleshooting in the user guide).
    const nodes = this.options.fleet
      .nodes()
      .filter((n) => (n.state ?? 'running') === 'running')
      .filter((n) => predicates.every((p) => p.test(n)));
    const query = JSON.stringify({
      op: 'DescribeInstanceInformation',
      f: input.Filters,
      l: input.InstanceInformationFilterList,
    });
    const nextToken = optionalString(input, 'NextToken');
    const offset = nextToken === undefined ? 0 : decodeToken(nextToken, query, nodes.length);
    // "The default value is 10 items." (MaxResults, API_DescribeInstanceInformation)
    const page = nodes.slice(offset, offset + (maxResults ?? 10));
    const end = offset + page.length;
    const out: Json = { InstanceInformationList: page.map((n) => this.instanceInformation(n)) };
    if (end < nodes.length) out.NextToken = encodeToken(query, end);
    return out;
  }

  private instanceInformation(node: SimulatedNode): Json {
    const managed = node.instanceId.startsWith('mi-');
    const windows = node.platform === 'Windows';
    const lastPing = node.online
      ? new Date()
      : (node.lastPingAt ?? new Date(this.started.getTime() - 36 * 3600 * 1000));
    const agentVersion = node.agentVersion ?? DEFAULT_AGENT_VERSION;
    const info: Json = {
      InstanceId: node.instanceId,
      PingStatus: node.online ? 'Online' : 'ConnectionLost',
      LastPingDateTime: epochSeconds(lastPing),
      AgentVersion: agentVersion,
      IsLatestVersion: compareVersions(agentVersion, DEFAULT_AGENT_VERSION) >= 0,
      PlatformType: node.platform,
      PlatformName: windows ? 'Microsoft Windows Server 2022 Datacenter' : 'Ubuntu',
      PlatformVersion: windows ? '10.0.20348' : '22.04',
      ResourceType: managed ? 'ManagedInstance' : 'EC2Instance',
      IPAddress: node.ipAddress,
      ComputerName: node.computerName,
      SourceId: node.instanceId,
      SourceType: managed ? 'AWS::SSM::ManagedInstance' : 'AWS::EC2::Instance',
    };
    if (managed) {
      info.Name = node.computerName;
      info.RegistrationDate = epochSeconds(new Date(this.started.getTime() - 90 * 24 * 3600 * 1000));
    }
    return info;
  }

  /**
   * `Filters` (InstanceInformationStringFilter): keys InstanceIds, AgentVersion, PingStatus, PlatformType
   * (PlatformTypes accepted too), ResourceType, SourceIds, SourceTypes, AssociationStatus, IamRole,
   * ActivationIds, "tag-key" and "tag:<key>"; 1..100 values each.
   * https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_InstanceInformationStringFilter.html
   */
  private stringFilters(list: readonly unknown[], v: Violations): NodePredicate[] {
    return list.map((raw, i) => {
      if (!isRecord(raw)) throw serializationError('Filters entries must be objects');
      const key = optionalString(raw, 'Key');
      const values = (optionalList(raw, 'Values') ?? []).map(String);
      const path = `filters.${i + 1}.member`;
      if (key === undefined) v.add(undefined, `${path}.key`, constraint.notNull);
      else if (key.length < 1) v.add(key, `${path}.key`, constraint.minLength(1));
      checkValueCount(values, raw.Values, `${path}.values`, v);
      return predicateFor(key ?? '', values, this.knownIds());
    });
  }

  /**
   * Legacy `InstanceInformationFilterList` (key enum, `valueSet` of 1..100).
   * https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_InstanceInformationFilter.html
   */
  private legacyFilters(list: readonly unknown[], v: Violations): NodePredicate[] {
    const keys = [
      'InstanceIds',
      'AgentVersion',
      'PingStatus',
      'PlatformTypes',
      'ActivationIds',
      'IamRole',
      'ResourceType',
      'AssociationStatus',
    ];
    return list.map((raw, i) => {
      if (!isRecord(raw)) throw serializationError('InstanceInformationFilterList entries must be objects');
      const key = optionalString(raw, 'key');
      const values = (optionalList(raw, 'valueSet') ?? []).map(String);
      const path = `instanceInformationFilterList.${i + 1}.member`;
      if (key === undefined) v.add(undefined, `${path}.key`, constraint.notNull);
      else if (!keys.includes(key)) v.add(key, `${path}.key`, constraint.enumSet(keys));
      checkValueCount(values, raw.valueSet, `${path}.valueSet`, v);
      return predicateFor(key ?? '', values, this.knownIds());
    });
  }

  private knownIds(): ReadonlySet<string> {
    return new Set(this.options.fleet.nodes().map((n) => n.instanceId));
  }

  // ---------------------------------------------------------------- SendCommand

  /** https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_SendCommand.html */
  private sendCommand(input: Json): Json {
    const v = new Violations();
    const documentName = optionalString(input, 'DocumentName');
    // DocumentName: Required; Pattern ^[a-zA-Z0-9_\-.:/]{3,128}$ (API_SendCommand)
    const docPattern = '^[a-zA-Z0-9_\\-.:/]{3,128}$';
    if (documentName === undefined) v.add(undefined, 'documentName', constraint.notNull);
    else if (!new RegExp(docPattern).test(documentName))
      v.add(documentName, 'documentName', constraint.pattern(docPattern));
    const instanceIds = (optionalList(input, 'InstanceIds') ?? []).map(String);
    // InstanceIds: "Array Members: Minimum number of 0 items. Maximum number of 50 items." (API_SendCommand)
    if (instanceIds.length > 50) v.add(instanceIds, 'instanceIds', constraint.maxLength(50));
    instanceIds.forEach((id, i) => {
      if (!INSTANCE_ID.test(id))
        v.add(id, `instanceIds.${i + 1}.member`, constraint.pattern(INSTANCE_ID_PATTERN));
    });
    const targets = optionalList(input, 'Targets') ?? [];
    // Targets: "Maximum number of 5 items." (API_SendCommand)
    if (targets.length > 5) v.add(`[${targets.length} targets]`, 'targets', constraint.maxLength(5));
    const timeoutSeconds = optionalInt(input, 'TimeoutSeconds');
    // TimeoutSeconds: "Valid Range: Minimum value of 30. Maximum value of 2592000." (API_SendCommand)
    if (timeoutSeconds !== undefined && timeoutSeconds < 30)
      v.add(timeoutSeconds, 'timeoutSeconds', constraint.min(30));
    if (timeoutSeconds !== undefined && timeoutSeconds > 2592000) {
      v.add(timeoutSeconds, 'timeoutSeconds', constraint.max(2592000));
    }
    const comment = optionalString(input, 'Comment') ?? '';
    // Comment: "Maximum length of 100." (API_SendCommand)
    if (comment.length > 100) v.add(comment, 'comment', constraint.maxLength(100));
    const given = readParameters(input.Parameters);
    const documentVersion = optionalString(input, 'DocumentVersion');
    // DocumentVersion: Pattern ([$]LATEST|[$]DEFAULT|^[1-9][0-9]*$) (API_SendCommand)
    const versionPattern = '([$]LATEST|[$]DEFAULT|^[1-9][0-9]*$)';
    if (documentVersion !== undefined && !new RegExp(versionPattern).test(documentVersion)) {
      v.add(documentVersion, 'documentVersion', constraint.pattern(versionPattern));
    }
    v.throwIfAny();

    const doc = this.documents.get(documentName ?? '');
    if (doc === undefined)
      throw modeled('InvalidDocument', `Document with name ${documentName} does not exist.`);
    // "You can specify $DEFAULT, $LATEST, or a specific version number" (DocumentVersion, API_SendCommand);
    // a version the document does not have is InvalidDocumentVersion, "The document version isn't valid or
    // doesn't exist." (API_SendCommand Errors). Every proving-ground document has exactly version 1.
    if (documentVersion !== undefined && documentVersion !== '$DEFAULT' && documentVersion !== '$LATEST') {
      if (documentVersion !== DOCUMENT_VERSION) {
        throw modeled('InvalidDocumentVersion', "The document version isn't valid or doesn't exist.");
      }
    }
    const params = resolveParameters(doc, given);

    const nodes = new Map(this.options.fleet.nodes().map((n) => [n.instanceId, n]));
    const targetIds = this.resolveTargets(targets, [...nodes.values()]);
    const ids = [...new Set([...instanceIds, ...targetIds])];
    if (ids.length === 0) {
      throw modeled(
        'InvalidParameters',
        'Specify the managed nodes to run the command on: InstanceIds or Targets.',
      );
    }
    // A well-formed id that is not a managed node, or a node that is stopped or terminated (its agent is not
    // running): the whole call fails InvalidInstanceId and nothing runs anywhere (InvalidInstanceId in
    // https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_SendCommand.html#API_SendCommand_Errors:
    // "SSM Agent isn't running", "The managed node isn't in valid state"; github.com/aws/aws-cli/issues/3646).
    // Real SSM sends it without text.
    if (ids.some((id) => (nodes.get(id)?.state ?? (nodes.has(id) ? 'running' : 'unknown')) !== 'running')) {
      throw new AwsError('InvalidInstanceId', 400);
    }

    const requested = new Date();
    const delivery = timeoutSeconds ?? 3600;
    const longestStep = Math.max(0, ...doc.steps.map((s) => stepTimeoutSeconds(s, params)));
    const command: CommandState = {
      id: randomUUID(),
      documentName: doc.name,
      comment,
      parameters: given,
      instanceIds: ids,
      requested,
      timeoutSeconds: delivery,
      // "Total timeout is equal to the value of delivery timeout plus execution timeout."
      // https://docs.aws.amazon.com/systems-manager/latest/userguide/monitor-commands.html
      expiresAfter: new Date(requested.getTime() + (delivery + longestStep) * 1000),
      visibleAt: new Date(requested.getTime() + this.options.consistencyDelayMs),
      invocations: [],
    };
    for (const id of ids) {
      const node = nodes.get(id)!;
      const invocation = this.planInvocation(command, doc, node, params);
      command.invocations.push(invocation);
      this.track(this.deliver(command, invocation, node, doc, params));
    }
    this.commands.push(command);
    return { Command: this.commandView(command) };
  }

  private resolveTargets(targets: readonly unknown[], nodes: readonly SimulatedNode[]): string[] {
    const ids: string[] = [];
    for (const raw of targets) {
      if (!isRecord(raw)) throw serializationError('Targets entries must be objects');
      const key = optionalString(raw, 'Key') ?? '';
      const values = (optionalList(raw, 'Values') ?? []).map(String);
      if (key === 'InstanceIds') ids.push(...values);
      else if (key.startsWith('tag:')) {
        const tag = key.slice(4);
        ids.push(...nodes.filter((n) => values.includes(n.tags[tag] ?? '\u0000')).map((n) => n.instanceId));
      } else if (key === 'tag-key') {
        ids.push(...nodes.filter((n) => values.some((k) => k in n.tags)).map((n) => n.instanceId));
      } else {
        throw modeled('InvalidParameters', `Target key ${key} is not supported by the proving ground.`);
      }
    }
    return ids;
  }

  private planInvocation(
    command: CommandState,
    doc: CommandDocument,
    node: SimulatedNode,
    params: ReadonlyMap<string, readonly string[]>,
  ): InvocationState {
    const plugins = doc.steps.map(
      (step): PluginState => ({
        name: step.name,
        action: step.action,
        script: substituteLines(step.runCommand, params).join('\n'),
        timeoutSeconds: stepTimeoutSeconds(step, params),
        skipMessage: skipReason(step, node.platform),
        status: 'Pending',
        statusDetails: 'Pending',
        responseCode: -1,
        start: undefined,
        end: undefined,
        stdout: '',
        stderr: '',
      }),
    );
    return {
      commandId: command.id,
      instanceId: node.instanceId,
      instanceName: node.computerName,
      requested: command.requested,
      status: 'Pending',
      statusDetails: 'Pending',
      responseCode: -1,
      plugins,
      running: undefined,
      cancelRequested: false,
    };
  }

  private track(work: Promise<void>): void {
    const tracked = work.catch(() => undefined);
    this.running.add(tracked);
    void tracked.finally(() => this.running.delete(tracked));
  }

  private currentNode(id: string): SimulatedNode | undefined {
    const { fleet } = this.options;
    return fleet.node ? fleet.node(id) : fleet.nodes().find((n) => n.instanceId === id);
  }

  /**
   * Delivery, the way "Understanding command statuses" describes it
   * (https://docs.aws.amazon.com/systems-manager/latest/userguide/monitor-commands.html):
   * - Pending: "The command hasn't been sent to the managed node or hasn't been received by SSM Agent." A node
   *   that is ConnectionLost keeps it Pending; if its agent comes back in time, it runs then.
   * - Delayed: "The system attempted to send the command to the managed node but wasn't successful" - used
   *   for a node that was reachable when the command was sent and dropped (or was stopped) before pick-up.
   * - The agent picks a command up only within TimeoutSeconds ("If this time is reached and the command
   *   hasn't already started running, it won't run", API_SendCommand); the invocation turns TimedOut /
   *   DeliveryTimedOut when the total timeout (delivery + execution, ExpiresAfter) has passed.
   * Undeliverable is not produced: AWS documents it for nodes that "might not exist", which SendCommand
   * already refuses here with InvalidInstanceId.
   */
  private async deliver(
    command: CommandState,
    inv: InvocationState,
    sentTo: SimulatedNode,
    doc: CommandDocument,
    params: ReadonlyMap<string, readonly string[]>,
  ): Promise<void> {
    const pickUpUntil = command.requested.getTime() + command.timeoutSeconds * 1000;
    const reachable = (n: SimulatedNode | undefined) =>
      n?.online === true && (n.state ?? 'running') === 'running';
    for (;;) {
      if (this.closed || inv.cancelRequested) return;
      const node = this.currentNode(sentTo.instanceId);
      if (node !== undefined && reachable(node)) {
        // The agent picks the command up after `deliveryDelayMs`, if its node is still there by then.
        const { deliveryDelayMs } = this.options;
        await this.delay(typeof deliveryDelayMs === 'number' ? deliveryDelayMs : deliveryDelayMs());
        if (this.closed || inv.cancelRequested) return;
        const now = this.currentNode(sentTo.instanceId);
        if (now !== undefined && reachable(now)) {
          await this.execute(inv, now, doc, params);
          return;
        }
      }
      if (Date.now() >= pickUpUntil) {
        await this.delay(Math.max(0, command.expiresAfter.getTime() - Date.now()));
        if (inv.cancelRequested) return;
        inv.status = 'TimedOut';
        inv.statusDetails = 'DeliveryTimedOut';
        inv.responseCode = -1;
        for (const p of inv.plugins) {
          p.status = 'TimedOut';
          p.statusDetails = 'DeliveryTimedOut';
        }
        return;
      }
      if (sentTo.online) {
        inv.status = 'Delayed';
        inv.statusDetails = 'Delayed';
        for (const p of inv.plugins) {
          p.status = 'Delayed';
          p.statusDetails = 'Delayed';
        }
      }
      await this.delay(Math.max(1, Math.min(DELIVERY_POLL_MS, pickUpUntil - Date.now())));
    }
  }

  /** A timer that close() cancels (the pending work then settles without finishing). */
  private delay(ms: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        this.cancels.delete(timer);
        resolve();
      }, ms);
      this.timers.add(timer);
      this.cancels.set(timer, () => reject(new Error('server closed')));
    });
  }

  private async execute(
    inv: InvocationState,
    node: SimulatedNode,
    doc: CommandDocument,
    params: ReadonlyMap<string, readonly string[]>,
  ): Promise<void> {
    inv.status = 'InProgress';
    inv.statusDetails = 'InProgress';
    const env = agentEnvironment(node, this.options.region, inv.commandId, envVarParameters(doc, params));
    for (const plugin of inv.plugins) {
      if (inv.cancelRequested) break;
      plugin.start = new Date();
      if (plugin.skipMessage !== undefined) {
        // Skipped steps report Success with the agent's skip message as output.
        finishPlugin(plugin, { exitCode: 0, stdout: plugin.skipMessage, stderr: '', timedOut: false });
        continue;
      }
      plugin.status = 'InProgress';
      plugin.statusDetails = 'InProgress';
      // The step's timeoutSeconds is its execution timeout, in real seconds: past it the step is killed and
      // reported TimedOut / ExecutionTimedOut ("Execution Timed Out: Command execution started on the managed
      // node, but the execution wasn't complete before the execution timeout expired", monitor-commands.html).
      const controller = new AbortController();
      inv.running = controller;
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        controller.abort(new Error('ExecutionTimedOut'));
      }, plugin.timeoutSeconds * 1000);
      let result: StepResult;
      try {
        result = await this.options.fleet.runStep({
          instanceId: inv.instanceId,
          action: plugin.action,
          script: plugin.script,
          env,
          timeoutSeconds: plugin.timeoutSeconds,
          signal: controller.signal,
        });
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        result = { exitCode: 1, stdout: '', stderr: `failed to run commands: ${message}`, timedOut: false };
      } finally {
        clearTimeout(timer);
        inv.running = undefined;
      }
      if (inv.cancelRequested) {
        plugin.end = new Date();
        plugin.stdout = result.stdout;
        plugin.stderr = result.stderr;
        plugin.status = 'Cancelled';
        plugin.statusDetails = 'Cancelled';
        break;
      }
      finishPlugin(plugin, timedOut ? { ...result, timedOut: true, exitCode: -1 } : result);
    }
    if (inv.cancelRequested) {
      markCancelled(inv);
      return;
    }
    const ran = inv.plugins.filter((p) => p.skipMessage === undefined);
    const timedOut = inv.plugins.find((p) => p.status === 'TimedOut');
    const failed = inv.plugins.find((p) => p.status === 'Failed');
    if (timedOut !== undefined) {
      inv.status = 'TimedOut';
      inv.statusDetails = 'ExecutionTimedOut';
    } else if (failed !== undefined) {
      inv.status = 'Failed';
      inv.statusDetails = 'Failed';
    } else {
      inv.status = 'Success';
      inv.statusDetails = 'Success';
    }
    inv.responseCode = (timedOut ?? failed ?? ran[ran.length - 1])?.responseCode ?? 0;
  }

  private commandView(c: CommandState): Json {
    const agg = aggregate(c);
    return {
      CommandId: c.id,
      DocumentName: c.documentName,
      DocumentVersion: DOCUMENT_VERSION,
      Comment: c.comment,
      ExpiresAfter: epochSeconds(c.expiresAfter),
      Parameters: c.parameters,
      InstanceIds: c.instanceIds,
      Targets: [],
      RequestedDateTime: epochSeconds(c.requested),
      Status: agg.status,
      StatusDetails: agg.details,
      OutputS3Region: this.options.region,
      OutputS3BucketName: '',
      OutputS3KeyPrefix: '',
      MaxConcurrency: '50',
      MaxErrors: '0',
      TargetCount: c.invocations.length,
      CompletedCount: agg.completed,
      ErrorCount: agg.errors,
      DeliveryTimedOutCount: agg.deliveryTimedOut,
      ServiceRole: '',
      NotificationConfig: { NotificationArn: '', NotificationEvents: [], NotificationType: '' },
      CloudWatchOutputConfig: { CloudWatchLogGroupName: '', CloudWatchOutputEnabled: false },
      TimeoutSeconds: c.timeoutSeconds,
      TriggeredAlarms: [],
    };
  }

  /** Eventual consistency: commands younger than `consistencyDelayMs` are not seen by reads yet. */
  private visibleCommands(): CommandState[] {
    const now = Date.now();
    return this.commands.filter((c) => c.visibleAt.getTime() <= now);
  }

  // ---------------------------------------------------------------- ListCommands

  /** https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_ListCommands.html */
  private listCommands(input: Json): Json {
    const v = new Violations();
    // CommandId, InstanceId and MaxResults (1 to 50) are alike in both list calls (API_ListCommands).
    const { commandId, instanceId, maxResults } = listInput(input, v);
    const rawFilters = optionalList(input, 'Filters');
    const tests = this.commandFilters(rawFilters, v);
    v.throwIfAny();

    // A command id that was never issued: InvalidCommandId (no members in the model: only __type).
    if (commandId !== undefined && !this.commands.some((c) => c.id === commandId)) {
      throw new AwsError('InvalidCommandId', 400);
    }
    // Commands still inside their consistency delay are omitted (eventual consistency, see GetCommandInvocation).
    const all = this.visibleCommands()
      .reverse()
      .filter((c) => commandId === undefined || c.id === commandId)
      .filter((c) => instanceId === undefined || c.instanceIds.includes(instanceId))
      .filter((c) => tests.every((t) => t(c)));
    const query = JSON.stringify({ op: 'ListCommands', commandId, instanceId, f: rawFilters });
    const nextToken = optionalString(input, 'NextToken');
    const offset = nextToken === undefined ? 0 : decodeToken(nextToken, query, all.length);
    // "The default value is 50" is not stated for ListCommands; 50 is the model's maximum and our page size.
    const page = all.slice(offset, offset + (maxResults ?? 50));
    const out: Json = { Commands: page.map((c) => this.commandView(c)) };
    if (offset + page.length < all.length) out.NextToken = encodeToken(query, offset + page.length);
    return out;
  }

  /**
   * CommandFilter: key InvokedAfter | InvokedBefore | Status | ExecutionStage | DocumentName, value 1..128
   * characters, 1..5 filters
   * (https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_CommandFilter.html): timestamps like
   * 2021-07-07T00:00:00Z; Status values for ListCommands Pending, InProgress, Success, Cancelled, Failed,
   * TimedOut ("includes both Delivery and Execution time outs"), AccessDenied, DeliveryTimedOut,
   * ExecutionTimedOut, Incomplete, NoInstancesInTag, LimitExceeded; ExecutionStage Executing | Complete.
   */
  private commandFilters(
    raw: readonly unknown[] | undefined,
    v: Violations,
  ): ((c: CommandState) => boolean)[] {
    if (raw === undefined) return [];
    // Filters: "Array Members: Minimum number of 1 item. Maximum number of 5 items." (API_ListCommands)
    if (raw.length < 1) v.add(raw, 'filters', constraint.minLength(1));
    if (raw.length > 5) v.add(`[${raw.length} filters]`, 'filters', constraint.maxLength(5));
    const keys = ['InvokedAfter', 'InvokedBefore', 'Status', 'ExecutionStage', 'DocumentName'];
    const statuses = [
      'Pending',
      'InProgress',
      'Success',
      'Cancelled',
      'Failed',
      'TimedOut',
      'AccessDenied',
      'DeliveryTimedOut',
      'ExecutionTimedOut',
      'Incomplete',
      'NoInstancesInTag',
      'LimitExceeded',
    ];
    const badValue = (key: string, value: string) =>
      new AwsError(
        'ValidationException',
        400,
        `The filter value '${value}' is not valid for key ${key}.`,
        'message',
      );
    return raw.map((f, i) => {
      if (!isRecord(f)) throw serializationError('Filters entries must be objects');
      const path = `filters.${i + 1}.member`;
      const key = optionalString(f, 'key');
      const value = optionalString(f, 'value');
      if (key === undefined) v.add(undefined, `${path}.key`, constraint.notNull);
      else if (!keys.includes(key)) v.add(key, `${path}.key`, constraint.enumSet(keys));
      if (value === undefined) v.add(undefined, `${path}.value`, constraint.notNull);
      else if (value.length < 1) v.add(value, `${path}.value`, constraint.minLength(1));
      else if (value.length > 128) v.add(value, `${path}.value`, constraint.maxLength(128));
      const val = value ?? '';
      switch (key) {
        case 'InvokedAfter':
        case 'InvokedBefore': {
          const at = Date.parse(val);
          if (value !== undefined && value.length > 0 && Number.isNaN(at)) throw badValue(key, val);
          return key === 'InvokedAfter'
            ? (c) => c.requested.getTime() >= at
            : (c) => c.requested.getTime() <= at;
        }
        case 'Status':
          if (value !== undefined && !statuses.includes(val)) throw badValue(key, val);
          return (c) => {
            const agg = aggregate(c);
            return agg.status === val || agg.details === val;
          };
        case 'ExecutionStage':
          if (value !== undefined && val !== 'Executing' && val !== 'Complete') throw badValue(key, val);
          return (c) => {
            const done = aggregate(c).completed === c.invocations.length;
            return val === 'Complete' ? done : !done;
          };
        case 'DocumentName':
          return (c) => c.documentName === val;
        default:
          return () => false;
      }
    });
  }

  // ---------------------------------------------------------------- CancelCommand

  /**
   * https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_CancelCommand.html - "Attempts to
   * cancel the command specified by the Command ID. There is no guarantee that the command will be terminated
   * and the underlying process stopped." Here: invocations not yet terminal become Cancelled (a running step
   * shows Cancelling until its process has been killed); terminal ones are left alone. Answers `{}`.
   */
  private cancelCommand(input: Json): Json {
    const v = new Violations();
    const commandId = optionalString(input, 'CommandId');
    if (commandId === undefined) v.add(undefined, 'commandId', constraint.notNull);
    checkCommandId(commandId, v);
    const instanceIds = (optionalList(input, 'InstanceIds') ?? []).map(String);
    // InstanceIds: "Minimum number of 0 items. Maximum number of 50 items." (API_CancelCommand)
    if (instanceIds.length > 50) v.add(instanceIds, 'instanceIds', constraint.maxLength(50));
    instanceIds.forEach((id, i) => {
      if (!INSTANCE_ID.test(id))
        v.add(id, `instanceIds.${i + 1}.member`, constraint.pattern(INSTANCE_ID_PATTERN));
    });
    v.throwIfAny();

    const command = this.commands.find((c) => c.id === commandId);
    if (command === undefined) throw new AwsError('InvalidCommandId', 400);
    // A node the command was not sent to: InvalidInstanceId (API_CancelCommand Errors).
    if (instanceIds.some((id) => !command.instanceIds.includes(id)))
      throw new AwsError('InvalidInstanceId', 400);
    const chosen = command.invocations.filter(
      (i) => instanceIds.length === 0 || instanceIds.includes(i.instanceId),
    );
    for (const inv of chosen) {
      if (isTerminal(inv.status) || inv.cancelRequested) continue;
      inv.cancelRequested = true;
      if (inv.status === 'InProgress') {
        // The agent is running it: Cancelling until the step's process is gone (execute() finishes it).
        inv.status = 'Cancelling';
        inv.statusDetails = 'Cancelling';
        inv.running?.abort(new Error('Cancelled'));
      } else {
        markCancelled(inv);
      }
    }
    return {};
  }

  // ---------------------------------------------------------------- ListCommandInvocations

  /** https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_ListCommandInvocations.html */
  private listCommandInvocations(input: Json): Json {
    const v = new Violations();
    // CommandId, InstanceId and MaxResults (1 to 50) are alike in both list calls (API_ListCommandInvocations).
    const { commandId, instanceId, maxResults } = listInput(input, v);
    const details = optionalBool(input, 'Details') ?? false;
    v.throwIfAny();

    const all = this.visibleCommands()
      .reverse()
      .filter((c) => commandId === undefined || c.id === commandId)
      .flatMap((c) => c.invocations)
      .filter((i) => instanceId === undefined || i.instanceId === instanceId);
    const query = JSON.stringify({ op: 'ListCommandInvocations', commandId, instanceId });
    const nextToken = optionalString(input, 'NextToken');
    const offset = nextToken === undefined ? 0 : decodeToken(nextToken, query, all.length);
    const page = all.slice(offset, offset + (maxResults ?? 50));
    const out: Json = { CommandInvocations: page.map((i) => this.invocationView(i, details)) };
    if (offset + page.length < all.length) out.NextToken = encodeToken(query, offset + page.length);
    return out;
  }

  private invocationView(inv: InvocationState, details: boolean): Json {
    const command = this.commands.find((c) => c.id === inv.commandId);
    const view: Json = {
      CommandId: inv.commandId,
      InstanceId: inv.instanceId,
      InstanceName: inv.instanceName,
      Comment: command?.comment ?? '',
      DocumentName: command?.documentName ?? '',
      DocumentVersion: DOCUMENT_VERSION,
      RequestedDateTime: epochSeconds(inv.requested),
      Status: inv.status,
      StatusDetails: inv.statusDetails,
      TraceOutput: '',
      StandardOutputUrl: '',
      StandardErrorUrl: '',
      CommandPlugins: [],
      ServiceRole: '',
      NotificationConfig: { NotificationArn: '', NotificationEvents: [], NotificationType: '' },
      CloudWatchOutputConfig: { CloudWatchLogGroupName: '', CloudWatchOutputEnabled: false },
    };
    if (details) view.CommandPlugins = inv.plugins.map((p) => this.pluginView(p));
    return view;
  }

  private pluginView(p: PluginState): Json {
    const view: Json = {
      Name: p.name,
      Status: p.status,
      StatusDetails: p.statusDetails,
      ResponseCode: p.responseCode,
      // Output: stdout + "\n----------ERROR-------\n" + stderr, cut to 2,500 the way the agent cuts it.
      Output: isTerminal(p.status) ? truncateOutput(p.stdout, p.stderr) : '',
      StandardOutputUrl: '',
      StandardErrorUrl: '',
      OutputS3Region: this.options.region,
      OutputS3BucketName: '',
      OutputS3KeyPrefix: '',
    };
    if (p.start !== undefined) view.ResponseStartDateTime = epochSeconds(p.start);
    if (p.end !== undefined) view.ResponseFinishDateTime = epochSeconds(p.end);
    return view;
  }

  // ---------------------------------------------------------------- GetCommandInvocation

  /** https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_GetCommandInvocation.html */
  private getCommandInvocation(input: Json): Json {
    const v = new Violations();
    const commandId = optionalString(input, 'CommandId');
    if (commandId === undefined) v.add(undefined, 'commandId', constraint.notNull);
    checkCommandId(commandId, v);
    const instanceId = optionalString(input, 'InstanceId');
    if (instanceId === undefined) v.add(undefined, 'instanceId', constraint.notNull);
    else if (!INSTANCE_ID.test(instanceId))
      v.add(instanceId, 'instanceId', constraint.pattern(INSTANCE_ID_PATTERN));
    const pluginName = optionalString(input, 'PluginName');
    // PluginName: "Minimum length of 4." (API_GetCommandInvocation)
    if (pluginName !== undefined && pluginName.length < 4)
      v.add(pluginName, 'pluginName', constraint.minLength(4));
    v.throwIfAny();

    // Right after SendCommand the invocation does not exist yet (eventual consistency: aws-cli#3546,
    // aws-sdk#86 and #190 - "list-command-invocations should return 404 if nothing is found").
    const command = this.visibleCommands().find((c) => c.id === commandId);
    const inv = command?.invocations.find((i) => i.instanceId === instanceId);
    if (command === undefined || inv === undefined) throw new AwsError('InvocationDoesNotExist', 400);

    let plugin: PluginState | undefined;
    if (pluginName !== undefined) {
      plugin = inv.plugins.find((p) => p.name === pluginName);
      if (plugin === undefined) throw new AwsError('InvalidPluginName', 400);
    } else if (inv.plugins.length === 1) {
      plugin = inv.plugins[0];
    }
    // "If the document contains more than one step, you must specify the name of the step" (PluginName):
    // without it the answer carries the invocation's status but no step output.
    const status = plugin?.status ?? inv.status;
    const terminal = isTerminal(status);
    const out: Json = {
      CommandId: inv.commandId,
      InstanceId: inv.instanceId,
      Comment: command.comment,
      DocumentName: command.documentName,
      DocumentVersion: DOCUMENT_VERSION,
      PluginName: plugin?.name ?? '',
      ResponseCode: plugin?.responseCode ?? inv.responseCode,
      ExecutionStartDateTime: plugin?.start?.toISOString() ?? '',
      ExecutionElapsedTime: elapsed(plugin),
      ExecutionEndDateTime: plugin?.end?.toISOString() ?? '',
      Status: status,
      StatusDetails: plugin?.statusDetails ?? inv.statusDetails,
      // "The first 24,000 characters written by the plugin to stdout" / "The first 8,000 characters
      // written by the plugin to stderr"; empty until the plugin has finished.
      StandardOutputContent:
        plugin !== undefined && terminal ? readPrefix(plugin.stdout, STDOUT_CONTENT_LIMIT) : '',
      StandardOutputUrl: '',
      StandardErrorContent:
        plugin !== undefined && terminal ? readPrefix(plugin.stderr, STDERR_CONTENT_LIMIT) : '',
      StandardErrorUrl: '',
      CloudWatchOutputConfig: { CloudWatchLogGroupName: '', CloudWatchOutputEnabled: false },
    };
    return out;
  }
}

// ------------------------------------------------------------------------------------------------

interface NodePredicate {
  test(node: SimulatedNode): boolean;
  validate?: () => void;
}

function checkValueCount(values: readonly string[], raw: unknown, path: string, v: Violations): void {
  // InstanceInformationFilterValueSet: "Minimum number of 1 item. Maximum number of 100 items."
  // https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_InstanceInformationStringFilter.html
  if (raw === undefined || raw === null) v.add(undefined, path, constraint.notNull);
  else if (values.length < 1) v.add(values, path, constraint.minLength(1));
  else if (values.length > 100) v.add(values, path, constraint.maxLength(100));
}

function predicateFor(key: string, values: readonly string[], known: ReadonlySet<string>): NodePredicate {
  const has = (x: string) => values.includes(x);
  const badValue = (allowed: readonly string[]) => () => {
    // InvalidInstanceInformationFilterValue carries `message` (lower case) in the SSM model.
    if (values.some((x) => !allowed.includes(x))) {
      throw new AwsError(
        'InvalidInstanceInformationFilterValue',
        400,
        "The specified filter value isn't valid.",
        'message',
      );
    }
  };
  if (key.startsWith('tag:')) {
    const tag = key.slice(4);
    return { test: (n) => tag in n.tags && has(n.tags[tag] ?? '') };
  }
  switch (key) {
    case 'tag-key':
      return { test: (n) => values.some((k) => k in n.tags) };
    case 'InstanceIds':
    case 'SourceIds':
      return {
        test: (n) => has(n.instanceId),
        // "If you specify a node ID that isn't valid or a node that you don't own, you receive an error."
        validate: () => {
          if (values.some((id) => !INSTANCE_ID.test(id) || !known.has(id)))
            throw new AwsError('InvalidInstanceId', 400);
        },
      };
    case 'PingStatus':
      return {
        test: (n) => has(n.online ? 'Online' : 'ConnectionLost'),
        validate: badValue(['Online', 'ConnectionLost', 'Inactive']),
      };
    case 'PlatformType':
    case 'PlatformTypes':
      return { test: (n) => has(n.platform), validate: badValue(['Windows', 'Linux', 'MacOS']) };
    case 'ResourceType':
      return {
        test: (n) => has(n.instanceId.startsWith('mi-') ? 'ManagedInstance' : 'EC2Instance'),
        validate: badValue(['EC2Instance', 'ManagedInstance']),
      };
    case 'SourceTypes':
      return {
        test: (n) => has(n.instanceId.startsWith('mi-') ? 'AWS::SSM::ManagedInstance' : 'AWS::EC2::Instance'),
      };
    case 'AgentVersion':
      return { test: (n) => has(n.agentVersion ?? DEFAULT_AGENT_VERSION) };
    case 'AssociationStatus':
    case 'IamRole':
    case 'ActivationIds':
      return { test: () => false }; // simulated nodes have no associations, role or activation
    default:
      return {
        test: () => false,
        validate: () => {
          // InvalidFilterKey has no members in the SSM model: the body is only its __type.
          throw new AwsError('InvalidFilterKey', 400);
        },
      };
  }
}

/** Compares dotted SSM Agent versions numerically ("3.3.2746.0" > "3.3.987.0"). */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return Math.sign(d);
  }
  return 0;
}

/**
 * The environment the agent gives a runShellScript / runPowerShellScript step, by agent version
 * (github.com/aws/amazon-ssm-agent: agent/executers/executers.go prepareEnvironment - AWS_SSM_INSTANCE_ID and
 * AWS_SSM_REGION_NAME since 2016, AWS_SSM_PLATFORM_NAME / _VERSION since 3.0.854.0; runscript.go sets
 * SSM_COMMAND_ID since 3.0.356.0, per RELEASENOTES.md). `SSM_<Param>` only from 3.3.2746.0 on.
 */
function agentEnvironment(
  node: SimulatedNode,
  region: string,
  commandId: string,
  params: Readonly<Record<string, string>>,
): Record<string, string> {
  const version = node.agentVersion ?? DEFAULT_AGENT_VERSION;
  const windows = node.platform === 'Windows';
  const env: Record<string, string> = { AWS_SSM_INSTANCE_ID: node.instanceId, AWS_SSM_REGION_NAME: region };
  if (compareVersions(version, '3.0.854.0') >= 0) {
    env.AWS_SSM_PLATFORM_NAME = windows ? 'Microsoft Windows Server 2022 Datacenter' : 'Ubuntu';
    env.AWS_SSM_PLATFORM_VERSION = windows ? '10.0.20348' : '22.04';
  }
  if (compareVersions(version, '3.0.356.0') >= 0) env.SSM_COMMAND_ID = commandId;
  if (compareVersions(version, ENV_VAR_AGENT_VERSION) >= 0) Object.assign(env, params);
  return env;
}

function readParameters(raw: unknown): Record<string, readonly string[]> {
  if (raw === undefined || raw === null) return {};
  if (!isRecord(raw)) throw serializationError('Parameters must be a map of string lists');
  const out: Record<string, readonly string[]> = {};
  for (const [key, value] of Object.entries(raw)) {
    if (!Array.isArray(value) || value.some((x) => typeof x !== 'string')) {
      throw serializationError('Parameters must be a map of string lists');
    }
    out[key] = value as string[];
  }
  return out;
}

/** The members ListCommands and ListCommandInvocations share, checked the same way. */
function listInput(
  input: Json,
  v: Violations,
): { commandId?: string; instanceId?: string; maxResults?: number } {
  const commandId = optionalString(input, 'CommandId');
  checkCommandId(commandId, v);
  const instanceId = optionalString(input, 'InstanceId');
  if (instanceId !== undefined && !INSTANCE_ID.test(instanceId)) {
    v.add(instanceId, 'instanceId', constraint.pattern(INSTANCE_ID_PATTERN));
  }
  const maxResults = optionalInt(input, 'MaxResults');
  // MaxResults: "Valid Range: Minimum value of 1. Maximum value of 50." (both API pages)
  if (maxResults !== undefined && maxResults < 1) v.add(maxResults, 'maxResults', constraint.min(1));
  if (maxResults !== undefined && maxResults > 50) v.add(maxResults, 'maxResults', constraint.max(50));
  return { commandId, instanceId, maxResults };
}

function checkCommandId(commandId: string | undefined, v: Violations): void {
  // CommandId: "Fixed length of 36." (API_ListCommandInvocations, API_GetCommandInvocation)
  if (commandId === undefined) return;
  if (commandId.length < 36) v.add(commandId, 'commandId', constraint.minLength(36));
  if (commandId.length > 36) v.add(commandId, 'commandId', constraint.maxLength(36));
}

function finishPlugin(plugin: PluginState, result: StepResult): void {
  plugin.end = new Date();
  plugin.stdout = result.stdout;
  plugin.stderr = result.stderr;
  plugin.responseCode = result.exitCode;
  if (result.timedOut) {
    plugin.status = 'TimedOut';
    plugin.statusDetails = 'ExecutionTimedOut';
  } else if (result.exitCode === 0) {
    plugin.status = 'Success';
    plugin.statusDetails = 'Success';
  } else {
    plugin.status = 'Failed';
    plugin.statusDetails = 'Failed';
  }
}

function isTerminal(status: InvocationStatus): boolean {
  return status === 'Success' || status === 'Failed' || status === 'TimedOut' || status === 'Cancelled';
}

/** Cancelled: "The command was terminated before it was completed. This is a terminal state." */
function markCancelled(inv: InvocationState): void {
  inv.status = 'Cancelled';
  inv.statusDetails = 'Cancelled';
  inv.responseCode = -1;
  for (const p of inv.plugins) {
    if (isTerminal(p.status)) continue;
    p.status = 'Cancelled';
    p.statusDetails = 'Cancelled';
  }
}

interface Aggregate {
  readonly status: string;
  readonly details: string;
  readonly completed: number;
  readonly errors: number;
  readonly deliveryTimedOut: number;
}

/**
 * A command's status from its invocations, with MaxErrors 0 (SendCommand's default here), after
 * Command.Status / StatusDetails / CompletedCount / ErrorCount / DeliveryTimedOutCount in
 * https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_Command.html and the command table of
 * https://docs.aws.amazon.com/systems-manager/latest/userguide/monitor-commands.html:
 * - CompletedCount: invocations in a terminal state (Success, Failed, Execution/Delivery Timed Out, Cancelled).
 * - ErrorCount: "the status is Failed or Execution Timed Out"; DeliveryTimedOutCount: "Delivery Timed Out".
 * - Cancelling while any invocation is Cancelling; Pending while no invocation has been sent; InProgress
 *   while any invocation is not terminal.
 * - Terminal: Cancelled if any invocation was cancelled; Failed (or TimedOut / ExecutionTimedOut when every
 *   error is an execution timeout) once errors exceed MaxErrors; Success when every invocation succeeded;
 *   TimedOut / DeliveryTimedOut when every invocation timed out in delivery; otherwise "Incomplete" ("attempted
 *   on all managed nodes and one or more invocations doesn't have a value of Success but not enough
 *   invocations failed"). Status has no Incomplete value; the proving ground answers Failed, the stricter one.
 */
function aggregate(c: CommandState): Aggregate {
  const inv = c.invocations;
  const count = (f: (i: InvocationState) => boolean) => inv.filter(f).length;
  const completed = count((i) => isTerminal(i.status));
  const failed = count((i) => i.status === 'Failed');
  const executionTimedOut = count((i) => i.status === 'TimedOut' && i.statusDetails === 'ExecutionTimedOut');
  const deliveryTimedOut = count((i) => i.status === 'TimedOut' && i.statusDetails === 'DeliveryTimedOut');
  const errors = failed + executionTimedOut;
  const base = { completed, errors, deliveryTimedOut };
  const is = (status: string, details = status) => ({ status, details, ...base });
  if (inv.some((i) => i.status === 'Cancelling')) return is('Cancelling');
  if (completed < inv.length) {
    return inv.every((i) => i.status === 'Pending') ? is('Pending') : is('InProgress');
  }
  if (inv.some((i) => i.status === 'Cancelled')) return is('Cancelled');
  if (errors > 0) return failed > 0 ? is('Failed') : is('TimedOut', 'ExecutionTimedOut');
  if (inv.every((i) => i.status === 'Success')) return is('Success');
  if (deliveryTimedOut === inv.length) return is('TimedOut', 'DeliveryTimedOut');
  return is('Failed', 'Incomplete');
}

/** ExecutionElapsedTime as an ISO 8601 duration, e.g. "PT0.052S"; empty before the step starts. */
function elapsed(plugin: PluginState | undefined): string {
  if (plugin?.start === undefined) return '';
  const end = plugin.end ?? new Date();
  return `PT${((end.getTime() - plugin.start.getTime()) / 1000).toFixed(3)}S`;
}
