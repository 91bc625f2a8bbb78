/**
 * Which function an environment deployed: its name follows the stack's naming convention
 * (shared/names.ts); the region is the operator's own unless only cdk.json names one.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { functionName } from '../../shared/names.ts';

export interface Target {
  readonly env: string;
  readonly functionName: string;
  /** The region of the environment in cdk.json, used when the operator's setup names none. */
  readonly region?: string;
  /** Environments cdk.json defines, for error messages. */
  readonly known: readonly string[];
  /** The environment's settings as cdk.json has them (unchecked), when it has them. */
  readonly settings?: unknown;
}

const CDK_JSON = join(import.meta.dirname, '..', '..', 'cdk.json');

export function resolveTarget(env: string, cdkJsonPath = CDK_JSON): Target {
  let environments: Record<string, { region?: unknown }> = {};
  try {
    const cdk = JSON.parse(readFileSync(cdkJsonPath, 'utf8')) as {
      context?: { environments?: Record<string, { region?: unknown }> };
    };
    environments = cdk.context?.environments ?? {};
  } catch {
    // No cdk.json: the naming convention alone still finds the function.
  }
  const settings = Object.hasOwn(environments, env) ? environments[env] : undefined;
  const region = settings?.region;
  return {
    env,
    functionName: functionName(env),
    ...(typeof region === 'string' ? { region } : {}),
    known: Object.keys(environments),
    ...(settings === undefined ? {} : { settings }),
  };
}
