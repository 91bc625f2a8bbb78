/**
 * SSM's filter language for commands: ListCommands' `Filters`, each turned into a test on a command.
 */
import {
  AwsError,
  constraint,
  isRecord,
  optionalString,
  serializationError,
  type Violations,
} from '../wire.ts';
import { aggregate, type CommandState } from './commands.ts';

/**
 * CommandFilter: key InvokedAfter | InvokedBefore | Status | ExecutionStage | DocumentName, value 1..128
 * characters, 1..5 filters
 * (https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_CommandFilter.html): timestamps like
 * 2021-07-07T00:00:00Z; Status values for ListCommands Pending, InProgress, Success, Cancelled, Failed,
 * TimedOut ("includes both Delivery and Execution time outs"), AccessDenied, DeliveryTimedOut,
 * ExecutionTimedOut, Incomplete, NoInstancesInTag, LimitExceeded; ExecutionStage Executing | Complete.
 */
export function commandFilters(
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
