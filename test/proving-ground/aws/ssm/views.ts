/**
 * What SSM answers with: the InstanceInformation, Command, CommandInvocation and plugin shapes of the
 * SSM API reference, built from the simulation's state, with the output cut the way the agent cuts it.
 */
import type { SimulatedNode } from '../../types.ts';
import { readPrefix, STDERR_CONTENT_LIMIT, STDOUT_CONTENT_LIMIT, truncateOutput } from '../output.ts';
import { epochSeconds, type Json } from '../wire.ts';
import { compareVersions, DEFAULT_AGENT_VERSION } from './agent.ts';
import {
  aggregate,
  type CommandState,
  DOCUMENT_VERSION,
  type InvocationState,
  isTerminal,
  type PluginState,
} from './commands.ts';

/**
 * One node as DescribeInstanceInformation lists it
 * (https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_InstanceInformation.html); `started`
 * is when the proving ground started, before which offline nodes last answered.
 */
export function instanceInformation(node: SimulatedNode, started: Date): Json {
  const managed = node.instanceId.startsWith('mi-');
  const windows = node.platform === 'Windows';
  const lastPing = node.online
    ? new Date()
    : (node.lastPingAt ?? new Date(started.getTime() - 36 * 3600 * 1000));
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
    info.RegistrationDate = epochSeconds(new Date(started.getTime() - 90 * 24 * 3600 * 1000));
  }
  return info;
}

/** https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_Command.html */
export function commandView(c: CommandState, region: string): Json {
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
    OutputS3Region: region,
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

/** One entry of ListCommandInvocations; `details`: with its steps (CommandPlugins). */
export function invocationView(
  inv: InvocationState,
  command: CommandState | undefined,
  details: boolean,
  region: string,
): Json {
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
    TraceOutput: inv.traceOutput ?? '',
    StandardOutputUrl: '',
    StandardErrorUrl: '',
    CommandPlugins: [],
    ServiceRole: '',
    NotificationConfig: { NotificationArn: '', NotificationEvents: [], NotificationType: '' },
    CloudWatchOutputConfig: { CloudWatchLogGroupName: '', CloudWatchOutputEnabled: false },
  };
  if (details) view.CommandPlugins = inv.plugins.map((p) => pluginView(p, region));
  return view;
}

function pluginView(p: PluginState, region: string): Json {
  const view: Json = {
    Name: p.name,
    Status: p.status,
    StatusDetails: p.statusDetails,
    ResponseCode: p.responseCode,
    // Output: stdout + "\n----------ERROR-------\n" + stderr, cut to 2,500 the way the agent cuts it.
    Output: isTerminal(p.status) ? (p.reportedOutput ?? truncateOutput(p.stdout, p.stderr)) : '',
    StandardOutputUrl: '',
    StandardErrorUrl: '',
    OutputS3Region: region,
    OutputS3BucketName: '',
    OutputS3KeyPrefix: '',
  };
  if (p.start !== undefined) view.ResponseStartDateTime = epochSeconds(p.start);
  if (p.end !== undefined) view.ResponseFinishDateTime = epochSeconds(p.end);
  return view;
}

/**
 * GetCommandInvocation's answer for one invocation and, when the caller named one or there is only one,
 * one step (`plugin`): without a step it carries the invocation's status but no step output.
 * https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_GetCommandInvocation.html
 */
export function commandInvocationView(
  command: CommandState,
  inv: InvocationState,
  plugin: PluginState | undefined,
): Json {
  const status = plugin?.status ?? inv.status;
  const terminal = isTerminal(status);
  return {
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
}

/** ExecutionElapsedTime as an ISO 8601 duration, e.g. "PT0.052S"; empty before the step starts. */
function elapsed(plugin: PluginState | undefined): string {
  if (plugin?.start === undefined) return '';
  const end = plugin.end ?? new Date();
  return `PT${((end.getTime() - plugin.start.getTime()) / 1000).toFixed(3)}S`;
}
