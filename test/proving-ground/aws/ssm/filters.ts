/**
 * SSM's filter language for nodes: DescribeInstanceInformation's `Filters` and legacy
 * `InstanceInformationFilterList`, and which nodes a SendCommand goes to (`InstanceIds`, `Targets`).
 * Each turns a request's filters into nodes, and refuses the filters and nodes AWS refuses.
 */
import type { SimulatedNode } from '../../types.ts';
import {
  AwsError,
  constraint,
  isRecord,
  type Json,
  modeled,
  optionalList,
  optionalString,
  serializationError,
  type Violations,
} from '../wire.ts';
import { DEFAULT_AGENT_VERSION } from './agent.ts';
import { checkValueCount, INSTANCE_ID } from './validation.ts';

interface NodePredicate {
  test(node: SimulatedNode): boolean;
  validate?: () => void;
}

export interface NodeFilters {
  /** The rules on the filters as a whole; call once the members have been validated. */
  check(): void;
  test(node: SimulatedNode): boolean;
}

/**
 * DescribeInstanceInformation's filters, member constraints added to `v`; `knownIds` are the nodes the
 * caller owns (https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_DescribeInstanceInformation.html).
 */
export function nodeFilters(input: Json, v: Violations, knownIds: () => ReadonlySet<string>): NodeFilters {
  const filters = optionalList(input, 'Filters') ?? [];
  const legacy = optionalList(input, 'InstanceInformationFilterList') ?? [];
  const predicates = [...stringFilters(filters, v, knownIds), ...legacyFilters(legacy, v, knownIds)];
  return {
    check() {
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
    },
    test: (node) => predicates.every((p) => p.test(node)),
  };
}

/**
 * `Filters` (InstanceInformationStringFilter): keys InstanceIds, AgentVersion, PingStatus, PlatformType
 * (PlatformTypes accepted too), ResourceType, SourceIds, SourceTypes, AssociationStatus, IamRole,
 * ActivationIds, "tag-key" and "tag:<key>"; 1..100 values each.
 * https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_InstanceInformationStringFilter.html
 */
function stringFilters(
  list: readonly unknown[],
  v: Violations,
  knownIds: () => ReadonlySet<string>,
): NodePredicate[] {
  return list.map((raw, i) => {
    if (!isRecord(raw)) throw serializationError('Filters entries must be objects');
    const key = optionalString(raw, 'Key');
    const values = (optionalList(raw, 'Values') ?? []).map(String);
    const path = `filters.${i + 1}.member`;
    if (key === undefined) v.add(undefined, `${path}.key`, constraint.notNull);
    else if (key.length < 1) v.add(key, `${path}.key`, constraint.minLength(1));
    checkValueCount(values, raw.Values, `${path}.values`, v);
    return predicateFor(key ?? '', values, knownIds());
  });
}

/**
 * Legacy `InstanceInformationFilterList` (key enum, `valueSet` of 1..100).
 * https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_InstanceInformationFilter.html
 */
function legacyFilters(
  list: readonly unknown[],
  v: Violations,
  knownIds: () => ReadonlySet<string>,
): NodePredicate[] {
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
    return predicateFor(key ?? '', values, knownIds());
  });
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

/**
 * The nodes a SendCommand goes to, by id: its `InstanceIds` and the nodes its `Targets` name. Every one
 * must be a running managed node.
 */
export function commandTargets(
  instanceIds: readonly string[],
  targets: readonly unknown[],
  fleetNodes: readonly SimulatedNode[],
): Map<string, SimulatedNode> {
  const nodes = new Map(fleetNodes.map((n) => [n.instanceId, n]));
  const targetIds = resolveTargets(targets, [...nodes.values()]);
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
  return new Map(ids.map((id) => [id, nodes.get(id)!]));
}

/** SendCommand's `Targets`: the ids of the nodes they name (keys InstanceIds, `tag:<key>`, `tag-key`). */
function resolveTargets(targets: readonly unknown[], nodes: readonly SimulatedNode[]): string[] {
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
