/**
 * One simulated Linux host's real Amazon SSM Agent (`hostModel: "agent"`): the agent's core, worker and
 * document workers run as root in the host's own mount, PID and network namespaces. The network namespace
 * has only loopback: a relay there listens on 127.0.0.1:RELAY_PORT and forwards each connection to the
 * proving ground's Unix socket, so the agent reaches the proving ground and nothing else (no route to any
 * other address exists in the namespace).
 *
 * The agent's configuration (identity, region, endpoints) is written per host and mounted over the
 * `configuration/` folder beside the binaries, where the agent looks first (agent/appconfig/constants_unix.go).
 * Its state (`/var/lib/amazon/ssm`) and logs (`/var/log/amazon/ssm`) live in the host's tree, so the leak scan
 * of the host covers them.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { killGroup, SETUP_FAILED } from '../hosts/isolated-step.ts';
import { AGENT_SOCKET_MOUNT_NAME, HOST_PATH } from '../hosts/layers.ts';
import { shellQuote } from '../hosts/limiter.ts';
import type { LinuxHost } from '../hosts/linux-host.ts';

/** The loopback port the agent is configured with inside its namespace (every host has its own loopback). */
export const RELAY_PORT = 8441;

export interface RealAgentOptions {
  readonly host: LinuxHost;
  /** The built agent (agent/build.ts). */
  readonly binDir: string;
  /** The folder holding the proving ground's Unix socket `aws.sock`. */
  readonly socketDir: string;
  readonly region: string;
}

/** The relay, run by node inside the namespace: TCP on loopback to the Unix socket, byte for byte. */
const RELAY = `
const net = require('node:net');
const [port, sock, ready] = process.argv.slice(1);
net.createServer((c) => {
  const u = net.connect(sock);
  c.pipe(u); u.pipe(c);
  c.on('error', () => u.destroy()); u.on('error', () => c.destroy());
}).listen(Number(port), '127.0.0.1', () => require('node:fs').writeFileSync(ready, 'ready'));
`;

export class RealAgent {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private prepared: Promise<void> | undefined;
  /** Why the agent's process ended, when it ended on its own (its namespace could not be set up). */
  #failure: string | undefined;
  private readonly agentDir: string;
  #starts = 0;

  constructor(private readonly options: RealAgentOptions) {
    this.agentDir = join(options.host.root, 'sim', 'agent');
  }

  get running(): boolean {
    return this.child !== undefined;
  }

  /** Why the agent's process ended on its own, if it did. */
  get failure(): string | undefined {
    return this.#failure;
  }

  /** How many times the agent process was started. */
  get starts(): number {
    return this.#starts;
  }

  /**
   * The pid of the process that made the agent's namespaces (`unshare`): it lives in the agent's mount and
   * network namespaces (the agent's processes are its descendants), so `nsenter -t PID` sees what they see.
   */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** The folder laid over the namespace's /usr/bin (the host's docker stand-in lives there). */
  get standInDir(): string {
    return join(this.agentDir, 'usr-bin');
  }

  /** The agent's own log, as it wrote it on the host. */
  get logPath(): string {
    return join(this.options.host.root, 'var/log/amazon/ssm/amazon-ssm-agent.log');
  }

  /** Starts the agent (no-op while it runs). */
  async start(): Promise<void> {
    if (this.child !== undefined) return;
    this.prepared ??= this.prepare();
    await this.prepared;
    if (this.child !== undefined) return;
    const setup = await this.setupScript();
    const isRoot = process.getuid?.() === 0;
    const args = [
      ...(isRoot ? [] : ['--user', '--map-root-user']),
      ...['--mount', '--propagation', 'private', '--net', '--pid', '--fork', '--kill-child', '--mount-proc'],
      ...['--', '/bin/sh', '-c', setup],
    ];
    const child = spawn('unshare', args, {
      // No HOME and a minimal PATH, as the agent's service unit gives it; dummy credentials for SigV4.
      env: {
        PATH: HOST_PATH,
        AWS_ACCESS_KEY_ID: 'AKIDPROVINGGROUNDAGENT',
        AWS_SECRET_ACCESS_KEY: 'proving-ground-agent-secret',
      },
      cwd: '/',
      detached: true,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    this.#starts += 1;
    this.child = child;
    let stderr = '';
    child.stderr?.on('data', (c: Buffer) => {
      if (stderr.length < 16_384) stderr += c.toString('utf8');
    });
    this.exited = new Promise<void>((resolve) => {
      child.on('close', (code, signal) => {
        if (this.child === child) this.child = undefined;
        if (signal !== 'SIGKILL') {
          this.#failure = `exited with ${code === SETUP_FAILED ? 'a failed namespace setup' : `code ${code}`}: ${stderr.trim()}`;
        }
        resolve();
      });
      child.on('error', () => resolve());
    });
  }

  /** Kills the agent and everything it runs (its PID namespace goes with it). */
  async stop(): Promise<void> {
    const child = this.child;
    if (child === undefined) return;
    killGroup(child);
    await this.exited;
  }

  private async prepare(): Promise<void> {
    const { host, region } = this.options;
    const endpoint = `http://127.0.0.1:${RELAY_PORT}`;
    await mkdir(join(this.agentDir, 'configuration'), { recursive: true });
    await mkdir(this.standInDir, { recursive: true });
    await mkdir(join(host.root, 'var/log/amazon/ssm'), { recursive: true });
    await writeFile(join(this.standInDir, 'docker'), host.dockerStandIn(), { mode: 0o755 });
    host.persistentStandInLayer = this.standInDir;
    const config = {
      Agent: { Region: region, SelfUpdate: false, TelemetryMetricsToSSM: false },
      Identity: {
        ConsumptionOrder: ['CustomIdentity'],
        CustomIdentities: [
          {
            InstanceID: host.id,
            Region: region,
            AvailabilityZone: `${region}a`,
            InstanceType: 't3.medium',
            CredentialsProvider: 'DEFAULT',
          },
        ],
      },
      Ssm: { Endpoint: endpoint },
      Mds: { Endpoint: endpoint },
      Mgs: { Endpoint: endpoint, Region: region },
      S3: { Endpoint: endpoint, Region: region },
      Kms: { Endpoint: endpoint },
    };
    await writeFile(
      join(this.agentDir, 'configuration', 'amazon-ssm-agent.json'),
      `${JSON.stringify(config, null, 2)}\n`,
    );
  }

  private async setupScript(): Promise<string> {
    const { host, binDir, socketDir } = this.options;
    const q = shellQuote;
    const socketMount = `/var/lib/${AGENT_SOCKET_MOUNT_NAME}`;
    const lines = await host.namespaceLines(this.standInDir, this.agentDir, [
      `mount --bind ${q(socketDir)} ${socketMount} || fail 'bind the proving ground socket'`,
      `mount --bind ${q(join(this.agentDir, 'configuration'))} ${q(join(binDir, 'configuration'))} || fail 'bind the agent configuration'`,
      `mount --bind ${q(join(host.root, 'var/log'))} /var/log || fail 'bind /var/log'`,
    ]);
    return [
      ...lines.slice(0, 2),
      // Only loopback in this network namespace: up it, so the relay can listen there.
      "ip link set lo up || fail 'loopback up'",
      ...lines.slice(2),
      `${q(process.execPath)} -e ${q(RELAY)} ${RELAY_PORT} ${q(`${socketMount}/aws.sock`)} /run/.ktr-relay.ready &`,
      `n=0; while [ ! -e /run/.ktr-relay.ready ]; do n=$((n + 1)); [ $n -lt 400 ] || fail 'start the relay'; sleep 0.05; done`,
      'rm -f /run/.ktr-relay.ready',
      'cd /',
      `exec ${q(join(binDir, 'amazon-ssm-agent'))}`,
    ].join('\n');
  }
}
