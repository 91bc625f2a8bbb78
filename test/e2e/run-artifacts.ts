/**
 * Everything a proving-ground run left where someone could read it afterwards, as named
 * sources for the leak scanner: the report, the handler's stdout and stderr, every AWS
 * request and reply, every host step's environment and output, and every regular file
 * on every simulated host.
 *
 * Two places hold the token by design and are left out, each named here: the Secrets
 * Manager reply that hands the function its secret, and a component's own regular
 * `registration_token.txt` (the one place the token is meant to end up).
 */
import { lstatSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { LeakSource } from '../leak-scanner.ts';
import type { ProvingGround } from '../proving-ground/proving-ground.ts';
import type { RecordedCall, StepResult, StepRun } from '../proving-ground/types.ts';

export interface HostTree {
  readonly instanceId: string;
  readonly root: string;
  /** Absolute paths of the components' `registration_token.txt` files: skipped when regular files. */
  readonly deliveryFiles: readonly string[];
}

export interface RunArtifacts {
  readonly report: unknown;
  readonly stdout: readonly string[];
  readonly stderr: readonly string[];
  readonly awsCalls: readonly RecordedCall[];
  /** The Secrets Manager secret holding the token: its GetSecretValue replies are not searched. */
  readonly secretId: string;
  readonly steps: readonly { readonly run: StepRun; readonly result: StepResult }[];
  readonly hosts: readonly HostTree[];
}

/** What a run produced, gathered from the ground while it still runs (before `stop`). */
export function runArtifacts(
  ground: ProvingGround,
  run: { report?: unknown; logs?: readonly string[]; stderr?: readonly string[] },
): RunArtifacts {
  const state = ground.fleetState();
  return {
    report: run.report ?? null,
    stdout: run.logs ?? [],
    stderr: run.stderr ?? [],
    awsCalls: ground.aws.calls,
    secretId: ground.info.secretId,
    steps: ground.steps,
    hosts: ground.scenario.hosts.map((h) => ({
      instanceId: h.id,
      root: ground.fleet.hostRoot(h.id),
      deliveryFiles: Object.keys(state[h.id] ?? {}).map((name) =>
        ground.fleet.registrationFilePath(h.id, name as never),
      ),
    })),
  };
}

function isSecretDelivery(call: RecordedCall, secretId: string): boolean {
  if (call.service !== 'secretsmanager' || call.operation !== 'GetSecretValue' || call.status !== 200) {
    return false;
  }
  const params = call.params as { SecretId?: unknown } | null;
  return params?.SecretId === secretId;
}

/** Every regular file under `host.root` (symlinks not followed), but its components' delivery files. */
export function hostFileSources(host: HostTree): LeakSource[] {
  const sources: LeakSource[] = [];
  const skip = new Set(host.deliveryFiles);
  const walk = (dir: string): void => {
    let entries: string[];
    try {
      entries = readdirSync(dir);
    } catch {
      return; // removed while we looked (a component consumed a file, a step cleaned up)
    }
    for (const name of entries.sort()) {
      const path = join(dir, name);
      let stat: ReturnType<typeof lstatSync>;
      try {
        stat = lstatSync(path);
      } catch {
        continue;
      }
      if (stat.isDirectory()) walk(path);
      else if (stat.isFile() && !skip.has(path)) {
        try {
          sources.push({
            where: `host ${host.instanceId} file ${relative(host.root, path)}`,
            text: readFileSync(path),
          });
        } catch {
          // gone between lstat and read
        }
      }
    }
  };
  walk(host.root);
  return sources;
}

/** The named sources of one run, in a stable order. */
export function artifactSources(artifacts: RunArtifacts): LeakSource[] {
  const sources: LeakSource[] = [{ where: 'report', text: JSON.stringify(artifacts.report) }];
  artifacts.stdout.forEach((line, i) => {
    sources.push({ where: `stdout line ${i + 1}`, text: line });
  });
  artifacts.stderr.forEach((line, i) => {
    sources.push({ where: `stderr line ${i + 1}`, text: line });
  });
  artifacts.awsCalls.forEach((call, i) => {
    const name = `aws call #${i + 1} ${call.service}.${call.operation}`;
    sources.push({ where: `${name} request`, text: call.requestBody ?? JSON.stringify(call.params) });
    if (call.responseBody !== undefined && !isSecretDelivery(call, artifacts.secretId)) {
      sources.push({ where: `${name} response`, text: call.responseBody });
    }
  });
  artifacts.steps.forEach(({ run, result }, i) => {
    const name = `step #${i + 1} on ${run.instanceId}`;
    for (const [key, value] of Object.entries(run.env)) {
      sources.push({ where: `${name} env ${key}`, text: value });
    }
    sources.push(
      { where: `${name} stdout`, text: result.stdout },
      { where: `${name} stderr`, text: result.stderr },
    );
  });
  for (const host of artifacts.hosts) sources.push(...hostFileSources(host));
  return sources;
}
