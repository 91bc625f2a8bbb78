/**
 * Reads the fields of one cdk.json environment by the declarations in shared/settings.ts:
 * unknown keys, objects (`fleetTag`, ...) and the fields they must have, each value judged by
 * its rule. Every problem goes to `add`, in the order the settings are declared.
 */
import { accepted, describe, judge } from '../shared/setting-rules.ts';
import { GROUPS, SETTING_LIST } from '../shared/settings.ts';

type Json = Record<string, unknown>;

export function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The keys an object of cdk.json may have (`undefined`: the environment itself), in declared order. */
function allowedKeys(group: string | undefined): string[] {
  const paths = SETTING_LIST.flatMap((setting) => (setting.context ? [setting.context.split('.')] : []));
  const keys = paths.flatMap((path) =>
    group === undefined ? [path[0]] : path[0] === group ? [path[1]] : [],
  );
  return [...new Set(keys.filter((key): key is string => key !== undefined))];
}

/** Each declared setting's value (default filled in; undefined when absent or wrong) and every problem. */
export function readFields(
  raw: Json,
  add: (field: string, problem: string) => void,
): Record<string, unknown> {
  const unknownKeys = (value: Json, group?: string) => {
    const allowed = allowedKeys(group);
    for (const key of Object.keys(value)) {
      if (!allowed.includes(key)) {
        add(group ? `${group}.${key}` : key, `unknown setting (allowed: ${allowed.join(', ')})`);
      }
    }
  };
  unknownKeys(raw);
  const groupState = new Map<string, 'absent' | 'invalid' | 'given'>();
  const values: Record<string, unknown> = {};
  for (const setting of SETTING_LIST) {
    if (!setting.context) continue;
    const [group, field] = setting.context.split('.') as [string, string?];
    const fallback = typeof setting.default === 'function' ? undefined : setting.default;
    let value: unknown;
    if (field === undefined) {
      value = raw[group];
    } else {
      if (!groupState.has(group)) {
        const spec = GROUPS[group];
        const object = raw[group];
        const required = spec?.required ? 'required: ' : '';
        if (object !== undefined && isObject(object)) unknownKeys(object, group);
        else if (object !== undefined || required) {
          add(
            group,
            `${required}${required ? 'an' : 'expected an'} object ${spec?.shape}, got ${describe(object)}`,
          );
        }
        groupState.set(group, object === undefined ? 'absent' : isObject(object) ? 'given' : 'invalid');
      }
      if (groupState.get(group) !== 'given') {
        values[setting.id] = fallback;
        continue;
      }
      value = (raw[group] as Json)[field];
      if (value === undefined && GROUPS[group]?.requires?.includes(field)) {
        add(setting.context, `expected ${accepted(setting.rule)}, got nothing`);
        continue;
      }
    }
    if (value === undefined) {
      values[setting.id] = fallback;
      continue;
    }
    const verdict = judge(setting.rule, value);
    if (verdict)
      add(
        setting.context,
        'expected' in verdict ? `expected ${verdict.expected}, got ${describe(value)}` : verdict.problem,
      );
    else values[setting.id] = value;
  }
  return values;
}
