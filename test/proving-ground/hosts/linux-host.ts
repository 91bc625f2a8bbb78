import { randomUUID } from 'node:crypto';
import { existsSync, lstatSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { chmod, chown, lchown, mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { dirname, join, posix, relative } from 'node:path';
import { Document } from 'yaml';
import {
  COMPONENTS,
  type ComponentName,
  isLinuxComponent,
  LINUX_INSTALL_ROOT,
  LINUX_INSTALL_VERSION,
  type LinuxComponentName,
  REGISTRATION_FILE,
  STATE_DIR,
} from '../kasm/catalog.ts';
import type { Trap } from '../scenario.ts';
import type { StepResult, StepRun } from '../types.ts';
import { dockerStandIn } from './docker-stand-in.ts';
import { HostSteps, SETUP_FAILED, stoppedBeforeRun } from './isolated-step.ts';
import { HOST_PATH, type NamespaceLayers } from './layers.ts';
import { type Limiter, shellQuote } from './limiter.ts';
import { type HostedComponent, noSuchComponent, type SimulatedHost } from './simulated-host.ts';

export interface Owner {
  readonly uid: number;
  readonly gid: number;
}

export interface LinuxComponentSetup {
  readonly name: LinuxComponentName;
  /** The auth token to write; undefined: the config has no token key at all. */
  readonly token: string | undefined;
  /** The component's id (server_id / connection proxy id) in its config. */
  readonly componentId: string;
  readonly running: boolean;
  readonly readOnly: boolean;
  /** The config directory's owner attacks the push (scenario.ts `Trap`). */
  readonly trap?: Trap;
}

/** Where a trapped component's canary lives on the host: root-owned, 0644, outside every config directory. */
export const CANARY_DIR = '/var/lib/kasm-canary';

/** The account the config directories belong to, in the host's own /etc/passwd (Kasm's installer makes one). */
export const OWNER_ACCOUNT = 'kasm';

/** Mode of a trap's canary: `race-group` makes it group-writable by root's group, as many root files are. */
function canaryMode(trap: Trap): number {
  return trap === 'race-group' ? 0o660 : 0o644;
}

export interface LinuxHostOptions {
  readonly id: string;
  /** This host's root directory. */
  readonly root: string;
  /** The fleet's root directory, hidden inside the namespace so a host cannot see other hosts. */
  readonly fleetRoot: string;
  readonly layers: NamespaceLayers;
  readonly limiter: Limiter;
  readonly opensslMissing: boolean;
  readonly owner: Owner;
  readonly ipAddress: string;
  /** Admin API address written into configs (`manager.hostnames`, `port`). */
  readonly apiHost: string;
  readonly apiPort: number;
}

/** Largest stdout / stderr kept per step. */

export class LinuxHost implements SimulatedHost {
  readonly id: string;
  readonly platform = 'Linux';
  readonly root: string;
  private readonly options: LinuxHostOptions;
  private readonly components = new Map<
    LinuxComponentName,
    { running: boolean; readOnly: boolean; trap: Trap | undefined }
  >();
  private readonly steps: HostSteps;
  private standInDir: string | undefined;

  constructor(options: LinuxHostOptions) {
    this.options = options;
    this.id = options.id;
    this.root = options.root;
    this.steps = new HostSteps(options.limiter);
  }

  /** Writes the host's tree. */
  async create(components: readonly LinuxComponentSetup[]): Promise<void> {
    const { root, owner } = this;
    const kasm = join(root, 'opt/kasm');
    const version = join(kasm, LINUX_INSTALL_VERSION);
    await mkdir(join(version, 'conf/app'), { recursive: true });
    await mkdir(join(version, 'log'), { recursive: true });
    await symlink(LINUX_INSTALL_VERSION, join(kasm, 'current'));
    for (const dir of [
      kasm,
      version,
      join(version, 'conf'),
      join(version, 'conf/app'),
      join(version, 'log'),
    ]) {
      await this.own(dir, 0o755);
    }
    await ownLink(join(kasm, 'current'), owner);
    // The host's /run: a tmpfs on a real host, emptied at boot; the product makes its state dir there.
    await mkdir(join(root, 'run'), { recursive: true });
    await chmod(join(root, 'run'), 0o755);
    await mkdir(join(root, 'var/lib/amazon/ssm'), { recursive: true, mode: 0o700 });
    await mkdir(join(root, 'tmp'), { recursive: true });
    await chmod(join(root, 'tmp'), 0o1777);
    await mkdir(join(root, 'sim/runs'), { recursive: true });
    await mkdir(join(root, CANARY_DIR), { recursive: true, mode: 0o755 });
    await this.writeAccounts();
    for (const c of components) {
      const file = this.configPath(c.name);
      await mkdir(join(file, '..'), { recursive: true });
      await this.own(join(file, '..'), 0o755);
      await writeFile(file, this.configText(c));
      await this.own(file, 0o640);
      this.components.set(c.name, { running: c.running, readOnly: c.readOnly, trap: c.trap });
      if (c.trap) await this.setTrap(c.name, c.trap);
    }
  }

  /**
   * The host's own /etc/passwd and /etc/group (bound over the machine's inside each step's namespace): root,
   * nobody and the account Kasm's files belong to, whose primary group is its own.
   */
  private async writeAccounts(): Promise<void> {
    const { uid, gid } = this.owner;
    const etc = join(this.root, 'etc');
    await mkdir(etc, { recursive: true, mode: 0o755 });
    const users = [
      'root:x:0:0:root:/root:/bin/bash',
      'nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin',
      ...(uid === 0 ? [] : [`${OWNER_ACCOUNT}:x:${uid}:${gid}:Kasm Workspaces:/home/kasm:/usr/sbin/nologin`]),
    ];
    const groups = ['root:x:0:', 'nogroup:x:65534:', ...(gid === 0 ? [] : [`${OWNER_ACCOUNT}:x:${gid}:`])];
    await writeFile(join(etc, 'passwd'), `${users.join('\n')}\n`, { mode: 0o644 });
    await writeFile(join(etc, 'group'), `${groups.join('\n')}\n`, { mode: 0o644 });
  }

  /** The canary's known content: anything else (or another owner or mode) means it was written to. */
  canaryContent(name: LinuxComponentName): string {
    return `canary of ${this.id}/${name}: root-owned, 0644, must never change\n`;
  }

  /** The canary as the host names it (what the owner's symlinks point at). */
  hostCanaryPath(name: LinuxComponentName): string {
    return posix.join(CANARY_DIR, `${name}.txt`);
  }

  trapOf(name: LinuxComponentName): Trap | undefined {
    return this.components.get(name)?.trap;
  }

  canary(name: ComponentName): 'intact' | 'changed' | undefined {
    return isLinuxComponent(name) && this.trapOf(name) ? this.canaryState(name) : undefined;
  }

  /** `intact` while the canary has its known content, owner and group root and its mode; otherwise `changed`. */
  canaryState(name: LinuxComponentName): 'intact' | 'changed' {
    const path = join(this.root, this.hostCanaryPath(name));
    const trap = this.trapOf(name);
    try {
      const st = lstatSync(path);
      const same =
        trap !== undefined &&
        st.isFile() &&
        st.uid === 0 &&
        st.gid === 0 &&
        (st.mode & 0o7777) === canaryMode(trap) &&
        readFileSync(path, 'utf8') === this.canaryContent(name);
      return same ? 'intact' : 'changed';
    } catch {
      return 'changed';
    }
  }

  private async setTrap(name: LinuxComponentName, trap: Trap): Promise<void> {
    const canary = join(this.root, this.hostCanaryPath(name));
    await mkdir(dirname(canary), { recursive: true, mode: 0o755 });
    await writeFile(canary, this.canaryContent(name));
    await chown(canary, 0, 0);
    await chmod(canary, canaryMode(trap));
    const dir = dirname(this.configPath(name));
    const registration = join(dir, REGISTRATION_FILE);
    if (trap === 'race-group') {
      // Made by root and handed over: the owner's directory, root's group.
      await chmod(dir, 0o770);
      await chown(dir, this.owner.uid, 0).catch(ignoreEperm);
    } else if (trap === 'dir') {
      await mkdir(registration);
      await this.own(registration, 0o755);
    } else if (trap === 'symlink') {
      await symlink(this.hostCanaryPath(name), registration);
      await ownLink(registration, this.owner);
    }
  }

  /**
   * Setup lines that start this step's attackers: Node processes running as the config directories' owner
   * (setpriv) inside the step's namespaces. The `race` attacker replaces every entry that appears in a
   * `race` or `race-group` directory with a symlink to that component's canary; the `fifo` attacker keeps
   * swapping `fifo` components' config files with FIFOs. They run until the step ends (they die with the
   * step's PID namespace); the step starts only once each attacker is ready.
   */
  private attackerLines(runDir: string): string[] {
    const trapped = (...traps: Trap[]) =>
      this.installed().filter((name) => traps.includes(this.trapOf(name) as Trap));
    const race = trapped('race', 'race-group').map(
      (name) => `${posix.dirname(this.hostConfigPath(name))}=${this.hostCanaryPath(name)}`,
    );
    const fifo = trapped('fifo').map((name) => this.hostConfigPath(name));
    return [
      ...this.attacker(join(runDir, 'race.ready'), RACE_ATTACKER, race),
      ...this.attacker(join(runDir, 'fifo.ready'), FIFO_ATTACKER, fifo),
    ];
  }

  private attacker(ready: string, program: string, args: readonly string[]): string[] {
    if (args.length === 0) return [];
    const q = shellQuote;
    const { uid, gid } = this.owner;
    return [
      `setpriv --reuid=${uid} --regid=${gid} --clear-groups -- ${q(process.execPath)} -e ${q(program)} ${args.map(q).join(' ')} >${q(ready)} 2>/dev/null &`,
      `n=0; while [ ! -s ${q(ready)} ]; do n=$((n + 1)); [ $n -lt 200 ] || fail 'start an attacker'; sleep 0.05; done`,
    ];
  }

  /**
   * The `fifo` attacker stops with its step; what it was holding aside goes back, as an owner who stops
   * attacking would leave it: the config where it was, unless the component saved a new one meanwhile.
   */
  private restoreFifoConfigs(): void {
    for (const name of this.installed()) {
      if (this.trapOf(name) !== 'fifo') continue;
      const config = this.configPath(name);
      const aside = fifoAsidePath(config);
      if (!existsSync(aside)) continue;
      if (lstatSync(config, { throwIfNoEntry: false })?.isFile()) rmSync(aside, { force: true });
      else {
        rmSync(config, { force: true });
        renameSync(aside, config);
      }
    }
  }

  get owner(): Owner {
    return this.options.owner;
  }

  /** The product's state directory on disk (`/run/kasm-token-reconciler` on the host; made by the probe). */
  get stateDir(): string {
    return join(this.root, STATE_DIR);
  }

  /** The config file on disk for a component (whether or not installed). */
  configPath(name: ComponentName): string {
    return join(this.root, 'opt/kasm', LINUX_INSTALL_VERSION, COMPONENTS[this.linux(name)].configFile);
  }

  /** The config file as the host sees it: `/opt/kasm/current/conf/app/...`. */
  hostConfigPath(name: LinuxComponentName): string {
    return posix.join(LINUX_INSTALL_ROOT, COMPONENTS[name].configFile);
  }

  logPath(name: ComponentName): string {
    return join(this.root, 'opt/kasm', LINUX_INSTALL_VERSION, 'log', `${this.linux(name)}.log`);
  }

  /** A path on disk as the host sees it: `<root>/opt/kasm/…` -> `/opt/kasm/…`. */
  hostPath(path: string): string {
    return `/${relative(this.root, path)}`;
  }

  /** Linux hosts model no ACLs. */
  fileAcl(): undefined {
    return undefined;
  }

  componentOptions(name: ComponentName): HostedComponent {
    const linux = this.linux(name);
    return {
      hostId: this.id,
      name: linux,
      configPath: this.configPath(linux),
      logPath: this.logPath(linux),
      readOnly: this.isReadOnly(linux),
      isRunning: () => this.isRunning(linux),
    };
  }

  installed(): LinuxComponentName[] {
    return [...this.components.keys()];
  }

  isInstalled(name: LinuxComponentName): boolean {
    return this.components.has(name);
  }

  isRunning(name: LinuxComponentName): boolean {
    return this.components.get(name)?.running ?? false;
  }

  setRunning(name: ComponentName, running: boolean): void {
    const c = this.components.get(this.linux(name));
    if (!c) throw new Error(`${name} is not installed on ${this.id}`);
    c.running = running;
    if (this.standInDir !== undefined)
      writeFileSync(join(this.standInDir, 'docker'), this.dockerStandIn(), { mode: 0o755 });
  }

  isReadOnly(name: LinuxComponentName): boolean {
    return this.components.get(name)?.readOnly ?? false;
  }

  /** Runs one step like the SSM agent: `sh _script.sh` as root, in this host's namespace. */
  runStep(run: StepRun): Promise<StepResult> {
    if (run.action !== 'aws:runShellScript') {
      return Promise.resolve({
        exitCode: 1,
        stdout: '',
        stderr: `${run.action} is not supported on simulated Linux host ${this.id}: pwsh is not installed.\n`,
        timedOut: false,
      });
    }
    return this.steps.schedule(() => this.execute(run));
  }

  /** Kills every step still running on this host, waits for them to end, and runs no more steps. */
  abortAll(): Promise<void> {
    return this.steps.abortAll();
  }

  /** The name as a Linux component's; an error for a component Linux hosts do not have. */
  private linux(name: ComponentName): LinuxComponentName {
    if (!isLinuxComponent(name)) throw noSuchComponent(name, this);
    return name;
  }

  private async execute(run: StepRun): Promise<StepResult> {
    if (this.steps.closed) return stoppedBeforeRun(this.id);
    const runId = randomUUID();
    const hostWorkDir = posix.join(
      '/var/lib/amazon/ssm',
      this.id,
      'document/orchestration',
      runId,
      'awsrunShellScript',
    );
    const workDir = join(this.root, hostWorkDir);
    const runDir = join(this.root, 'sim/runs', runId);
    try {
      await mkdir(workDir, { recursive: true });
      await writeFile(join(workDir, '_script.sh'), run.script, { mode: 0o700 });
      const standInLayer = join(runDir, 'usr-bin');
      await mkdir(standInLayer, { recursive: true });
      await writeFile(join(standInLayer, 'docker'), this.dockerStandIn(), { mode: 0o755 });
      await this.options.layers.prepare();
      const setup = await this.setupScript(standInLayer, hostWorkDir, runDir);
      if (this.steps.closed) return stoppedBeforeRun(this.id);
      return await this.spawnInNamespace(setup, run);
    } finally {
      this.restoreFifoConfigs();
      await rm(runDir, { recursive: true, force: true });
    }
  }

  private async setupScript(standInLayer: string, hostWorkDir: string, runDir: string): Promise<string> {
    return [
      ...(await this.namespaceLines(standInLayer, runDir)),
      `cd ${shellQuote(hostWorkDir)} || fail 'cd to the work directory'`,
      'unset OLDPWD',
      'exec sh _script.sh',
    ].join('\n');
  }

  /**
   * The sh lines that give a fresh mount namespace this host's view (its /opt/kasm, /run, /var/lib/amazon,
   * /tmp, PATH with the docker stand-in from `standInLayer`, read-only and trapped config directories) and
   * hide the rest of the fleet. `extraMounts` run before /tmp and the fleet are hidden (their sources may be there).
   */
  async namespaceLines(
    standInLayer: string,
    runDir: string,
    extraMounts: readonly string[] = [],
  ): Promise<string[]> {
    const { layers, fleetRoot } = this.options;
    const q = shellQuote;
    const lines = [
      'set -e',
      `fail() { echo "proving ground: cannot set up the namespace of simulated host ${this.id}: $*" >&2; exit ${SETUP_FAILED}; }`,
      `mount -t overlay -o ${q(`lowerdir=${layers.optLayer}:/opt`)} pg-opt /opt || fail 'overlay on /opt'`,
      `mount --bind ${q(join(this.root, 'opt/kasm'))} /opt/kasm || fail 'bind /opt/kasm'`,
      `mount -t overlay -o ${q(`lowerdir=${layers.varLibLayer}:/var/lib`)} pg-var-lib /var/lib || fail 'overlay on /var/lib'`,
      // The host's own /run, kept between its steps as a real host's tmpfs is kept until reboot.
      `mount --bind ${q(join(this.root, 'run'))} /run || fail 'bind /run'`,
      `mount --bind ${q(join(this.root, 'var/lib/amazon'))} /var/lib/amazon || fail 'bind /var/lib/amazon'`,
      `mount --bind ${q(join(this.root, 'etc/passwd'))} /etc/passwd || fail 'bind /etc/passwd'`,
      `mount --bind ${q(join(this.root, 'etc/group'))} /etc/group || fail 'bind /etc/group'`,
    ];
    for (const overlay of await layers.binOverlays(this.options.opensslMissing)) {
      const stack = [
        ...(overlay.dir === layers.usrBin ? [standInLayer] : []),
        ...overlay.layers,
        overlay.dir,
      ];
      lines.push(
        `mount -t overlay -o ${q(`lowerdir=${stack.join(':')}`)} pg-bin ${q(overlay.dir)} || fail 'overlay on ${overlay.dir}'`,
      );
    }
    for (const name of this.installed()) {
      if (!this.isReadOnly(name)) continue;
      const dir = q(posix.dirname(this.hostConfigPath(name)));
      lines.push(
        `mount --bind ${dir} ${dir} && mount -o remount,bind,ro ${dir} || fail 'read-only ${name} config directory'`,
      );
    }
    lines.push(
      `mount --bind ${q(join(this.root, CANARY_DIR))} ${CANARY_DIR} || fail 'bind ${CANARY_DIR}'`,
      ...this.attackerLines(runDir),
      ...extraMounts,
      `mount --bind ${q(join(this.root, 'tmp'))} /tmp || fail 'bind /tmp'`,
      // Hide the whole fleet (other hosts' files), unless /tmp already did.
      `if [ -e ${q(fleetRoot)} ]; then mount -t tmpfs -o size=16k,mode=0755 pg-hidden ${q(fleetRoot)} || fail 'hide the fleet'; fi`,
    );
    return lines;
  }

  /** The docker stand-in for this host's containers as they run now. */
  dockerStandIn(): string {
    const containers = this.installed().map((name) => ({
      name: COMPONENTS[name].container ?? name,
      running: this.isRunning(name),
    }));
    return dockerStandIn(this.id, containers);
  }

  /** A stand-in layer kept for the host's life (the real agent's namespace), rewritten when a container starts or stops. */
  set persistentStandInLayer(dir: string) {
    this.standInDir = dir;
  }

  private spawnInNamespace(setup: string, run: StepRun): Promise<StepResult> {
    const env = { PATH: HOST_PATH, HOME: '/root', ...run.env };
    return this.steps.run(setup, env, run.timeoutSeconds, run.signal);
  }

  private configText(c: LinuxComponentSetup): string {
    const { apiHost, apiPort, ipAddress } = this.options;
    const api = (tokenKey: string) => ({
      hostnames: [apiHost],
      port: apiPort,
      ...(c.token === undefined ? {} : { [tokenKey]: c.token }),
    });
    const body: Record<string, unknown> = (() => {
      switch (c.name) {
        case 'agent':
          return {
            agent: {
              server_id: c.componentId,
              public_hostname: ipAddress,
              listen_port: 4444,
              provider: 'aws',
              docker_network: 'kasm_default_network',
              auto_prune_images: false,
            },
            manager: api('token'),
          };
        case 'guac':
          return {
            api: api('auth_token'),
            kasmguac: {
              id: c.componentId,
              cluster_size: 2,
              server_address: ipAddress,
              server_port: 3000,
              zone: 'default',
            },
          };
        case 'rdp_gateway':
          return {
            api: api('auth_token'),
            rdp_gateway: { id: c.componentId, server_address: ipAddress, listen_port: 3389, zone: 'default' },
          };
        case 'rdp_https_gateway':
          return {
            api: api('auth_token'),
            rdp_https_gateway: {
              id: c.componentId,
              server_address: ipAddress,
              listen_port: 9443,
              zone: 'default',
            },
          };
      }
    })();
    const doc = new Document(body);
    doc.commentBefore = ` Kasm Workspaces ${LINUX_INSTALL_VERSION}: ${c.name} configuration`;
    return doc.toString({ lineWidth: 0 });
  }

  private async own(path: string, mode: number): Promise<void> {
    await chmod(path, mode);
    await chown(path, this.owner.uid, this.owner.gid).catch(ignoreEperm);
  }
}

async function ownLink(path: string, owner: Owner): Promise<void> {
  await lchown(path, owner.uid, owner.gid).catch(ignoreEperm);
}

function ignoreEperm(error: NodeJS.ErrnoException): void {
  if (error.code !== 'EPERM') throw error;
}

/**
 * The `race` attacker (run with `node -e`, arguments `<dir>=<canary>`): remembers what each directory
 * holds, then replaces every entry that appears later with a symlink to the canary, on each inotify
 * event and every 5 ms. The config's own atomic-save temp files (`.<config>.*.tmp`, written by the
 * simulated component from outside the host) are left alone: they are the simulator's, not the push's.
 */
const RACE_ATTACKER = `
const fs = require('node:fs');
const targets = process.argv.slice(1).map((a) => { const i = a.indexOf('='); return [a.slice(0, i), a.slice(i + 1)]; });
const known = new Map(targets.map(([dir]) => [dir, new Set(fs.readdirSync(dir))]));
const strike = (dir, canary) => {
  let names;
  try { names = fs.readdirSync(dir); } catch { return; }
  for (const name of names) {
    if (known.get(dir).has(name) || /\\.app\\.config\\.yaml\\.[0-9a-f]+\\.tmp$/.test(name)) continue;
    const path = dir + '/' + name;
    try { if (fs.readlinkSync(path) === canary) continue; } catch {}
    try { fs.rmSync(path, { recursive: true, force: true }); fs.symlinkSync(canary, path); } catch {}
  }
};
for (const [dir, canary] of targets) fs.watch(dir, () => strike(dir, canary));
setInterval(() => { for (const [dir, canary] of targets) strike(dir, canary); }, 5);
process.stdout.write('ready\\n');
`;

/** Where the `fifo` attacker keeps a config while a FIFO stands in its place. */
function fifoAsidePath(config: string): string {
  return join(dirname(config), `.${posix.basename(config)}.aside`);
}

/**
 * The `fifo` attacker (run with `node -e`, arguments: config files as the host sees them): every 10 ms it
 * either moves each config aside and puts a FIFO that nobody writes in its place, or puts the config back
 * (unless the component saved a new one meanwhile: then the old one is dropped). Whoever opens the config
 * for reading while the FIFO is there waits for a writer that never comes.
 */
const FIFO_ATTACKER = `
const fs = require('node:fs');
const { spawnSync } = require('node:child_process');
const configs = process.argv.slice(1);
const aside = (p) => p.replace(/([^/]+)$/, '.$1.aside');
let swapped = false;
const swap = () => {
  for (const p of configs) {
    try {
      if (!swapped) {
        fs.renameSync(p, aside(p));
        spawnSync('mkfifo', ['-m', '0640', p]);
      } else if (fs.lstatSync(p).isFIFO()) {
        fs.rmSync(p, { force: true });
        fs.renameSync(aside(p), p);
      } else {
        fs.rmSync(aside(p), { force: true });
      }
    } catch {}
  }
  swapped = !swapped;
};
setInterval(swap, 10);
process.stdout.write('ready\\n');
`;
