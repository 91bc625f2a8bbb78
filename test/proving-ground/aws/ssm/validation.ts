/**
 * SSM request validation: the member constraints of each operation, from the SSM API reference (each
 * cited where it is checked) and the service model botocore ships (`ssm/2014-11-06/service-2.json`),
 * collected in order and answered with Coral's ValidationException text (wire.ts `Violations`).
 */
import {
  constraint,
  isRecord,
  type Json,
  optionalInt,
  optionalList,
  optionalString,
  serializationError,
  Violations,
} from '../wire.ts';

/** InstanceId pattern of the SSM model (`(^i-(\w{8}|\w{17})$)|(^mi-\w{17}$)`). */
export const INSTANCE_ID_PATTERN = '(^i-(\\w{8}|\\w{17})$)|(^mi-\\w{17}$)';
export const INSTANCE_ID = new RegExp(INSTANCE_ID_PATTERN);

/** DescribeInstanceInformation's MaxResults. */
export function describeMaxResults(input: Json, v: Violations): number | undefined {
  const maxResults = optionalInt(input, 'MaxResults');
  // MaxResults: "Valid Range: Minimum value of 5. Maximum value of 50." (API_DescribeInstanceInformation)
  if (maxResults !== undefined && maxResults < 5) v.add(maxResults, 'maxResults', constraint.min(5));
  if (maxResults !== undefined && maxResults > 50) v.add(maxResults, 'maxResults', constraint.max(50));
  return maxResults;
}

export interface SendCommandInput {
  readonly documentName: string | undefined;
  readonly instanceIds: string[];
  readonly targets: unknown[];
  readonly timeoutSeconds: number | undefined;
  readonly comment: string;
  readonly given: Record<string, readonly string[]>;
  readonly documentVersion: string | undefined;
  readonly documentHash: string | undefined;
  readonly documentHashType: 'Sha256' | 'Sha1' | undefined;
}

/** https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_SendCommand.html */
export function sendCommandInput(input: Json): SendCommandInput {
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
  const documentHash = optionalString(input, 'DocumentHash');
  // DocumentHash: "Length Constraints: Maximum length of 256."; DocumentHashType: "Valid Values: Sha256 | Sha1"
  // (API_SendCommand).
  if (documentHash !== undefined && documentHash.length > 256)
    v.add(documentHash, 'documentHash', constraint.maxLength(256));
  const hashType = optionalString(input, 'DocumentHashType');
  const HASH_TYPES = ['Sha256', 'Sha1'] as const;
  if (hashType !== undefined && !(HASH_TYPES as readonly string[]).includes(hashType))
    v.add(hashType, 'documentHashType', constraint.enumSet(HASH_TYPES));
  v.throwIfAny();
  return {
    documentName,
    instanceIds,
    targets,
    timeoutSeconds,
    comment,
    given,
    documentVersion,
    documentHash,
    documentHashType: hashType as SendCommandInput['documentHashType'],
  };
}

/** https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_CancelCommand.html */
export function cancelCommandInput(input: Json): { commandId: string | undefined; instanceIds: string[] } {
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
  return { commandId, instanceIds };
}

/** https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_GetCommandInvocation.html */
export function getCommandInvocationInput(input: Json): {
  commandId: string | undefined;
  instanceId: string | undefined;
  pluginName: string | undefined;
} {
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
  return { commandId, instanceId, pluginName };
}

/** The members ListCommands and ListCommandInvocations share, checked the same way. */
export function listInput(
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

/** The number of values in one DescribeInstanceInformation filter. */
export function checkValueCount(values: readonly string[], raw: unknown, path: string, v: Violations): void {
  // InstanceInformationFilterValueSet: "Minimum number of 1 item. Maximum number of 100 items."
  // https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_InstanceInformationStringFilter.html
  if (raw === undefined || raw === null) v.add(undefined, path, constraint.notNull);
  else if (values.length < 1) v.add(values, path, constraint.minLength(1));
  else if (values.length > 100) v.add(values, path, constraint.maxLength(100));
}

function checkCommandId(commandId: string | undefined, v: Violations): void {
  // CommandId: "Fixed length of 36." (API_ListCommandInvocations, API_GetCommandInvocation)
  if (commandId === undefined) return;
  if (commandId.length < 36) v.add(commandId, 'commandId', constraint.minLength(36));
  if (commandId.length > 36) v.add(commandId, 'commandId', constraint.maxLength(36));
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
