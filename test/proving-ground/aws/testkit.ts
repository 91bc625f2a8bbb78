/**
 * Test helpers for the AWS server tests: a small SimulatedFleet that runs each step with the real `sh`
 * (no mount namespaces - that is the hosts/ runner's job), SDK clients pointed at the server, and the
 * SSM documents the tests send.
 */
import { spawn } from 'node:child_process';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SSMClient } from '@aws-sdk/client-ssm';
import { afterEach } from 'vitest';
import type {
  InstanceState,
  Platform,
  SimulatedFleet,
  SimulatedNode,
  StepResult,
  StepRun,
} from '../types.ts';
import { type AwsServer, type AwsServerOptions, startAwsServer } from './server.ts';

export const REGION = 'eu-west-1';
export const CREDENTIALS = { accessKeyId: 'AKIDPROVINGGROUND', secretAccessKey: 'not-a-secret' };

export interface NodeSpec {
  readonly platform?: Platform;
  readonly online?: boolean;
  readonly tags?: Record<string, string>;
  readonly state?: InstanceState;
  readonly agentVersion?: string;
}

/** `i-` ids of 17 hex digits, or `mi-` ids for hybrid nodes, numbered from `n`. */
export function ec2Id(n: number): string {
  return `i-${n.toString(16).padStart(17, '0')}`;
}

export function hybridId(n: number): string {
  return `mi-${n.toString(16).padStart(17, '0')}`;
}

export function node(instanceId: string, spec: NodeSpec = {}): SimulatedNode {
  return {
    instanceId,
    platform: spec.platform ?? 'Linux',
    online: spec.online ?? true,
    tags: spec.tags ?? { 'kasm:reconcile': 'true' },
    computerName: `${instanceId}.fleet.internal`,
    ipAddress: '10.0.0.1',
    ...(spec.state === undefined ? {} : { state: spec.state }),
    ...(spec.agentVersion === undefined ? {} : { agentVersion: spec.agentVersion }),
  };
}

/** A fleet whose steps run in `sh -c` with exactly the env the server hands over (plus PATH). */
export class ShellFleet implements SimulatedFleet {
  readonly runs: StepRun[] = [];

  constructor(private all: SimulatedNode[]) {}

  nodes(): readonly SimulatedNode[] {
    return this.all;
  }

  /** Changes one node in place (e.g. its agent drops, or it is stopped), as time passes on a real fleet. */
  update(instanceId: string, change: Partial<SimulatedNode>): void {
    this.all = this.all.map((n) => (n.instanceId === instanceId ? { ...n, ...change } : n));
  }

  runStep(run: StepRun): Promise<StepResult> {
    this.runs.push(run);
    return new Promise((resolve, reject) => {
      const child = spawn('sh', ['-c', run.script], {
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...run.env },
        detached: true, // own process group, so a timeout kills the script's children too
      });
      let stdout = '';
      let stderr = '';
      let timedOut = false;
      child.stdout.setEncoding('utf8').on('data', (d: string) => {
        stdout += d;
      });
      child.stderr.setEncoding('utf8').on('data', (d: string) => {
        stderr += d;
      });
      const kill = () => {
        try {
          if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      };
      const timer = setTimeout(() => {
        timedOut = true;
        kill();
      }, run.timeoutSeconds * 1000);
      run.signal?.addEventListener('abort', kill, { once: true });
      child.on('error', reject);
      child.on('close', (code) => {
        clearTimeout(timer);
        run.signal?.removeEventListener('abort', kill);
        resolve({ exitCode: code ?? 1, stdout, stderr, timedOut });
      });
    });
  }
}

export const TAG = { key: 'kasm:reconcile', value: 'true' };

/** A two-platform document in the shape the product uses: ENV_VAR parameter, pattern, preconditions. */
export const DELIVER_DOC = {
  schemaVersion: '2.2',
  description: 'Test document: echoes what it receives.',
  parameters: {
    Token: {
      type: 'String',
      description: 'Sealed registration token (base64).',
      interpolationType: 'ENV_VAR',
      allowedPattern: '^[A-Za-z0-9+/=]{8,}$',
    },
    Mode: { type: 'String', default: 'check', allowedValues: ['check', 'push'] },
  },
  mainSteps: [
    {
      action: 'aws:runShellScript',
      name: 'deliverLinux',
      precondition: { StringEquals: ['platformType', 'Linux'] },
      inputs: {
        timeoutSeconds: '30',
        runCommand: [
          'echo "instance=$AWS_SSM_INSTANCE_ID region=$AWS_SSM_REGION_NAME"',
          'echo "token=$SSM_Token mode={{ Mode }}"',
        ],
      },
    },
    {
      action: 'aws:runPowerShellScript',
      name: 'deliverWindows',
      precondition: { StringEquals: ['platformType', 'Windows'] },
      inputs: { runCommand: ['Write-Output "token=$env:SSM_Token"'] },
    },
  ],
};

/** A one-step document that writes a chosen amount of stdout and stderr and exits with a chosen code. */
export const NOISE_DOC = {
  schemaVersion: '2.2',
  description: 'Test document: produces output of a given size.',
  parameters: {
    Out: { type: 'String', default: '0', allowedPattern: '^[0-9]+$', interpolationType: 'ENV_VAR' },
    Err: { type: 'String', default: '0', allowedPattern: '^[0-9]+$', interpolationType: 'ENV_VAR' },
    Exit: { type: 'String', default: '0', allowedPattern: '^[0-9]+$', interpolationType: 'ENV_VAR' },
    Sleep: { type: 'String', default: '0', allowedPattern: '^[0-9.]+$', interpolationType: 'ENV_VAR' },
    Timeout: { type: 'String', default: '30', allowedPattern: '^[0-9]+$' },
  },
  mainSteps: [
    {
      action: 'aws:runShellScript',
      name: 'noise',
      inputs: {
        timeoutSeconds: '{{ Timeout }}',
        runCommand: [
          'sleep "$SSM_Sleep"',
          'head -c "$SSM_Out" /dev/zero | tr "\\000" o',
          'head -c "$SSM_Err" /dev/zero | tr "\\000" e >&2',
          'exit "$SSM_Exit"',
        ],
      },
    },
  ],
};

export const DOCUMENTS: ReadonlyMap<string, object> = new Map<string, object>([
  ['Test-Deliver', DELIVER_DOC],
  ['Test-Noise', NOISE_DOC],
]);

export function ssmClient(server: AwsServer, maxAttempts = 1): SSMClient {
  return new SSMClient({ endpoint: server.endpoint, region: REGION, credentials: CREDENTIALS, maxAttempts });
}

export function secretsClient(server: AwsServer, maxAttempts = 1): SecretsManagerClient {
  return new SecretsManagerClient({
    endpoint: server.endpoint,
    region: REGION,
    credentials: CREDENTIALS,
    maxAttempts,
  });
}

/** Starts a server over `fleet` with the test documents; the caller closes it. */
export function startTestServer(
  fleet: SimulatedFleet,
  extra: Partial<AwsServerOptions> = {},
): Promise<AwsServer> {
  return startAwsServer({
    fleet,
    documents: DOCUMENTS,
    secrets: new Map(),
    region: REGION,
    // Tests of other rules read right after SendCommand; the eventual-consistency test sets its own delay.
    consistencyDelayMs: 0,
    ...extra,
  });
}

/**
 * For a test file's top level: a function starting servers as startTestServer does, each closed after
 * the test that started it.
 */
export function serversPerTest(): (
  fleet: SimulatedFleet,
  extra?: Partial<AwsServerOptions>,
) => Promise<AwsServer> {
  const servers: AwsServer[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => s.close()));
  });
  return async (fleet, extra = {}) => {
    const server = await startTestServer(fleet, extra);
    servers.push(server);
    return server;
  };
}

/** As serversPerTest, each server handed over with an SSM client for it. */
export function ssmServersPerTest(): (
  fleet: SimulatedFleet,
  extra?: Partial<AwsServerOptions>,
) => Promise<{ server: AwsServer; ssm: SSMClient }> {
  const start = serversPerTest();
  return async (fleet, extra = {}) => {
    const server = await start(fleet, extra);
    return { server, ssm: ssmClient(server) };
  };
}

/** Awaits a promise expected to reject and returns the error, failing the test if it resolves. */
export async function rejection(
  promise: Promise<unknown>,
): Promise<Error & { name: string; $metadata?: unknown }> {
  try {
    await promise;
  } catch (error) {
    return error as Error & { name: string };
  }
  throw new Error('expected the call to fail, but it succeeded');
}

/** A raw AWS JSON 1.1 request, for asserting the wire form itself. */
export async function rawCall(
  server: AwsServer,
  target: string,
  body: unknown,
): Promise<{ status: number; headers: Headers; json: Record<string, unknown> }> {
  const res = await fetch(server.endpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': target },
    body: JSON.stringify(body),
  });
  return { status: res.status, headers: res.headers, json: (await res.json()) as Record<string, unknown> };
}

/** Polls `read` until `done` holds for its answer (or `timeoutMs` passes), and returns that answer. */
export async function waitFor<T>(
  read: () => Promise<T>,
  done: (value: T) => boolean,
  timeoutMs: number,
): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > until) throw new Error(`condition not reached within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
