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
const AGENT_VERSION = '3.3.2746.0'; // first agent with ENV_VAR interpolation

type InvocationStatus = 'Pending' | 'InProgress' | 'Success' | 'Failed' | 'TimedOut';

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
  readonly invocations: InvocationState[];
}

export interface SsmOptions {
  readonly fleet: SimulatedFleet;
  readonly documents: ReadonlyMap<string, object>;
  readonly region: string;
  readonly undeliverableAfterMs: number;
  readonly deliveryDelayMs: number;
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
    const predicates = [
      ...this.stringFilters(optionalList(input, 'Filters') ?? [], v),
      ...this.legacyFilters(optionalList(input, 'InstanceInformationFilterList') ?? [], v),
    ];
    v.throwIfAny();
    for (const p of predicates) p.validate?.();

    const nodes = this.options.fleet.nodes().filter((n) => predicates.every((p) => p.test(n)));
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
    const lastPing = node.online ? new Date() : new Date(this.started.getTime() - 36 * 3600 * 1000);
    const info: Json = {
      InstanceId: node.instanceId,
      PingStatus: node.online ? 'Online' : 'ConnectionLost',
      LastPingDateTime: epochSeconds(lastPing),
      AgentVersion: AGENT_VERSION,
      IsLatestVersion: true,
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
    v.throwIfAny();

    const doc = this.documents.get(documentName ?? '');
    if (doc === undefined)
      throw modeled('InvalidDocument', `Document with name ${documentName} does not exist.`);
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
    // A well-formed id that is not a managed node: InvalidInstanceId, which real SSM sends without text.
    if (ids.some((id) => !nodes.has(id))) throw new AwsError('InvalidInstanceId', 400);

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
      invocations: [],
    };
    for (const id of ids) {
      const node = nodes.get(id)!;
      const invocation = this.planInvocation(command, doc, node, params);
      command.invocations.push(invocation);
      this.start(invocation, node, doc, params);
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
    };
  }

  private start(
    inv: InvocationState,
    node: SimulatedNode,
    doc: CommandDocument,
    params: ReadonlyMap<string, readonly string[]>,
  ): void {
    const work = node.online ? this.execute(inv, doc, params) : this.undeliverable(inv);
    const tracked = work.catch(() => undefined);
    this.running.add(tracked);
    void tracked.finally(() => this.running.delete(tracked));
  }

  /**
   * A ConnectionLost node never receives the command: the invocation stays Pending and ends
   * `Failed` / StatusDetails `Undeliverable` / ResponseCode -1 with empty output ("The command can't be
   * delivered to the instance. The instance might not exist or it might not be responding." - terminal;
   * https://docs.aws.amazon.com/systems-manager/latest/userguide/monitor-commands.html). The wait is
   * `undeliverableAfterMs` instead of the real delivery timeout.
   */
  private async undeliverable(inv: InvocationState): Promise<void> {
    await this.delay(this.options.undeliverableAfterMs);
    inv.status = 'Failed';
    inv.statusDetails = 'Undeliverable';
    inv.responseCode = -1;
    inv.plugins = [];
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
    doc: CommandDocument,
    params: ReadonlyMap<string, readonly string[]>,
  ): Promise<void> {
    await this.delay(this.options.deliveryDelayMs);
    if (this.closed) return;
    inv.status = 'InProgress';
    inv.statusDetails = 'InProgress';
    const env: Record<string, string> = {
      AWS_SSM_INSTANCE_ID: inv.instanceId,
      AWS_SSM_REGION_NAME: this.options.region,
      ...envVarParameters(doc, params),
    };
    for (const plugin of inv.plugins) {
      plugin.start = new Date();
      if (plugin.skipMessage !== undefined) {
        // Skipped steps report Success with the agent's skip message as output.
        finishPlugin(plugin, { exitCode: 0, stdout: plugin.skipMessage, stderr: '', timedOut: false });
        continue;
      }
      plugin.status = 'InProgress';
      plugin.statusDetails = 'InProgress';
      let result: StepResult;
      try {
        result = await this.options.fleet.runStep({
          instanceId: inv.instanceId,
          action: plugin.action,
          script: plugin.script,
          env,
          timeoutSeconds: plugin.timeoutSeconds,
        });
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        result = { exitCode: 1, stdout: '', stderr: `failed to run commands: ${message}`, timedOut: false };
      }
      finishPlugin(plugin, result);
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
    const done = c.invocations.filter((i) => isTerminal(i.status)).length;
    const errors = c.invocations.filter((i) => i.status === 'Failed' || i.status === 'TimedOut').length;
    return {
      CommandId: c.id,
      DocumentName: c.documentName,
      DocumentVersion: '$DEFAULT',
      Comment: c.comment,
      ExpiresAfter: epochSeconds(c.expiresAfter),
      Parameters: c.parameters,
      InstanceIds: c.instanceIds,
      Targets: [],
      RequestedDateTime: epochSeconds(c.requested),
      Status: 'Pending',
      StatusDetails: 'Pending',
      OutputS3Region: this.options.region,
      OutputS3BucketName: '',
      OutputS3KeyPrefix: '',
      MaxConcurrency: '50',
      MaxErrors: '0',
      TargetCount: c.invocations.length,
      CompletedCount: done,
      ErrorCount: errors,
      DeliveryTimedOutCount: 0,
      ServiceRole: '',
      NotificationConfig: { NotificationArn: '', NotificationEvents: [], NotificationType: '' },
      CloudWatchOutputConfig: { CloudWatchLogGroupName: '', CloudWatchOutputEnabled: false },
      TimeoutSeconds: c.timeoutSeconds,
      TriggeredAlarms: [],
    };
  }

  // ---------------------------------------------------------------- ListCommandInvocations

  /** https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_ListCommandInvocations.html */
  private listCommandInvocations(input: Json): Json {
    const v = new Violations();
    const commandId = optionalString(input, 'CommandId');
    checkCommandId(commandId, v);
    const instanceId = optionalString(input, 'InstanceId');
    if (instanceId !== undefined && !INSTANCE_ID.test(instanceId)) {
      v.add(instanceId, 'instanceId', constraint.pattern(INSTANCE_ID_PATTERN));
    }
    const maxResults = optionalInt(input, 'MaxResults');
    // MaxResults: "Valid Range: Minimum value of 1. Maximum value of 50." (API_ListCommandInvocations)
    if (maxResults !== undefined && maxResults < 1) v.add(maxResults, 'maxResults', constraint.min(1));
    if (maxResults !== undefined && maxResults > 50) v.add(maxResults, 'maxResults', constraint.max(50));
    const details = optionalBool(input, 'Details') ?? false;
    v.throwIfAny();

    const all = [...this.commands]
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
      DocumentVersion: '$DEFAULT',
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

    const command = this.commands.find((c) => c.id === commandId);
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
      DocumentVersion: '$DEFAULT',
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
      return { test: () => has(AGENT_VERSION) };
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
  return status === 'Success' || status === 'Failed' || status === 'TimedOut';
}

/** ExecutionElapsedTime as an ISO 8601 duration, e.g. "PT0.052S"; empty before the step starts. */
function elapsed(plugin: PluginState | undefined): string {
  if (plugin?.start === undefined) return '';
  const end = plugin.end ?? new Date();
  return `PT${((end.getTime() - plugin.start.getTime()) / 1000).toFixed(3)}S`;
}
