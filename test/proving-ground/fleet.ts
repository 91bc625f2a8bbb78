/**
 * The simulated fleet described by a scenario: one simulated host per scenario host (a directory
 * tree; Linux steps run in a private mount namespace, Windows steps run with PowerShell 7 in one),
 * one simulated component loop per installed component, and the fleet state the `simulate` command
 * reports.
 *
 * @example
 * ```ts
 * const api = await startKasmAdminApi({ ...scenario.kasm, registrationToken: scenario.registrationToken });
 * const fleet = await createFleet(scenario, { kasm: api, fleetTag: { key: 'kasm:reconcile', value: 'true' } });
 * fleet.start();
 * // … the AWS wire server calls fleet.runStep(…) …
 * console.log(fleet.state());
 * await fleet.stop();
 * await api.close();
 * ```
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { type Dirent, lstatSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { chmod, chown, mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseDocument } from 'yaml';
import type { FleetTag } from '../../shared/settings.ts';
import { RealAgent } from './agent/real-agent.ts';
import type { AgentCheckIn, MessageDelivery } from './aws/ssm/message-delivery.ts';
import { awsTimingFor } from './aws-timing.ts';
import { computerName, ipAddress, octal } from './fleet-common.ts';
import { NamespaceLayers } from './hosts/layers.ts';
import { Limiter } from './hosts/limiter.ts';
import { LinuxHost, type Owner } from './hosts/linux-host.ts';
import { findPwsh, pwshMissingReason } from './hosts/pwsh.ts';
import type { SimulatedHost } from './hosts/simulated-host.ts';
import { type WindowsAclView, WindowsHost } from './hosts/windows-host.ts';
import { type StandInCall, StandInServer } from './hosts/windows-stand-ins.ts';
import {
  type Instance,
  InstanceLifecycle,
  initialInstance,
  LifecycleFleet,
  nodeOf,
  scheduledAgent,
} from './instance-lifecycle.ts';
import type { KasmAdminApi } from './kasm/admin-api.ts';
import { COMPONENTS, type ComponentName, LINUX_COMPONENTS, REGISTRATION_FILE } from './kasm/catalog.ts';
import { SimulatedComponent } from './kasm/component.ts';
import { readRegularFileSync, stringAt, writeConfigValue } from './kasm/config-file.ts';
import type { HostScenario, Scenario, TokenState } from './scenario.ts';
import type { InstanceState, SimulatedFleet, SimulatedNode, StepResult, StepRun } from './types.ts';

export interface FleetOptions {
  readonly kasm: KasmAdminApi;
  readonly fleetTag: FleetTag;
  /** Where host trees go; default a new `os.tmpdir()/ktr-pg-XXXXXX`. Must not contain `:` or `,`. */
  readonly rootDir?: string;
  /** Steps running at once across the fleet (default 8). */
  readonly maxConcurrentSteps?: number;
  /** Owner of the Kasm config files and directories (default 1000:1000). */
  readonly configOwner?: Owner;
  /** Leave the host trees on disk after stop() (for debugging). */
  readonly keepFiles?: boolean;
  /**
   * `hostModel: "agent"`: every Linux host runs the real SSM Agent built into `binDir`, reaching the proving
   * ground through `socketDir/aws.sock`; its check-ins (Online, AgentVersion) come from `messageDelivery`.
   */
  readonly agents?: {
    readonly binDir: string;
    readonly socketDir: string;
    readonly region: string;
    readonly messageDelivery: MessageDelivery;
  };
}

export interface ComponentState {
  readonly tokenValid: boolean;
  readonly registrationFile: 'absent' | 'present';
  /** Octal mode such as `0600`; only when the file is present. */
  readonly registrationFileMode?: string;
  /**
   * Windows: the file's ACL as far as the icacls stand-in knows it, SDDL style (`D:P(A;;FA;;;SY)(A;;FA;;;BA)`
   * = SYSTEM and Administrators only, inheritance removed); only when the file is present. The mode
   * mirrors it: 0600 when only SYSTEM and Administrators can read the file.
   */
  readonly registrationFileAcl?: string;
  /** Components with a `trap` only: whether the root-owned canary kept its content, owner and mode. */
  readonly canary?: 'intact' | 'changed';
}

/** `{"<instanceId>": {"<component>": ComponentState}}`, as `npm run simulate` reports it. */
export type FleetState = Record<string, Record<string, ComponentState>>;

export interface RegistrationFileInfo {
  readonly content: string;
  /** Octal, e.g. `0600`. */
  readonly mode: string;
  readonly uid: number;
  readonly gid: number;
}

export interface Fleet extends SimulatedFleet {
  readonly rootDir: string;
  readonly heartbeatSeconds: number;
  /** Starts the component loops of every online host. */
  start(): void;
  /** Stops component loops, kills running steps, removes the host trees. Idempotent. */
  stop(): Promise<void>;
  state(): FleetState;
  hostRoot(id: string): string;
  /** Powers a host on or off: offline hosts run no steps and their components do not run. */
  setOnline(id: string, online: boolean): void;
  /** Stops, starts or terminates an instance now (its agent checks in again a few seconds after a start). */
  setState(id: string, state: InstanceState): void;
  /** The host's agent stops answering now, as `goesOfflineAfterSeconds` makes it (ConnectionLost from then on). */
  dropAgent(id: string): void;
  /** The component's config file on disk. */
  configPath(id: string, component: ComponentName): string;
  readToken(id: string, component: ComponentName): string | undefined;
  /** Rewrites the token in the config (undefined: removes the key), as a component would save it. */
  writeToken(id: string, component: ComponentName, token: string | undefined): Promise<void>;
  readLog(id: string, component: ComponentName): string;
  registrationFilePath(id: string, component: ComponentName): string;
  /** Writes `registration_token.txt` next to the config (default mode 0600, owner of the config). */
  placeRegistrationFile(
    id: string,
    component: ComponentName,
    content: string,
    options?: { mode?: number; uid?: number; gid?: number },
  ): Promise<void>;
  registrationFile(id: string, component: ComponentName): RegistrationFileInfo | undefined;
  /** Starts or stops the component process (the docker / Get-Service stand-in follows on the next step). */
  setRunning(id: string, component: ComponentName, running: boolean): void;
  /** The live component loop (only while the fleet is started and the host online). */
  component(id: string, component: ComponentName): SimulatedComponent | undefined;
  /** Windows: every request the Get-Service / Restart-Service / icacls.exe stand-ins got on this host. */
  standInCalls(id: string): readonly StandInCall[];
  /** Windows: makes `sid` the owner of a file or folder on the host, as the Get-Acl stand-in reports it. */
  setWindowsOwner(id: string, path: string, sid: string): void;
  /** Windows: what the ACL stand-in knows about a file or folder on the host (undefined: absent). */
  windowsAcl(id: string, path: string): WindowsAclView | undefined;
  /** Windows: adds an explicit Allow entry (icacls rights, e.g. `F`, `RX`) for `sid` to a file or folder. */
  addWindowsAce(id: string, path: string, sid: string, rights: string): void;
  /**
   * Per host, every file of the host's whole tree (config and state directories, /run, /tmp, the SSM
   * work directory, …) that holds `token` (as is, or base64 encoded) other than a component's regular
   * `registration_token.txt`. Symlinks are not followed; hosts without such files are left out.
   */
  strayTokenFiles(token: string): Record<string, string[]>;
  /** Resolves once every running component loop has completed `count` more heartbeats. */
  waitForHeartbeats(count?: number): Promise<void>;
  /** `hostModel: "agent"`: the host's real agent (undefined on other hosts and models). */
  realAgent(id: string): RealAgent | undefined;
  /** `hostModel: "agent"`: resolves once every running agent has checked in; throws after `timeoutMs`. */
  agentsCheckedIn(timeoutMs: number): Promise<void>;
}

interface HostEntry extends Instance {
  readonly host: SimulatedHost;
  /** `hostModel: "agent"`, Linux: the real SSM Agent of this host, and what it last told SSM of itself. */
  readonly agent?: RealAgent;
  readonly agentCheckIn?: () => AgentCheckIn | undefined;
}

/** What building the hosts needs, and what it leaves for the fleet (the stand-in server, once made). */
interface Build {
  readonly scenario: Scenario;
  readonly options: FleetOptions;
  readonly rootDir: string;
  readonly layers: NamespaceLayers;
  readonly limiter: Limiter;
  readonly owner: Owner;
  readonly api: { readonly host: string; readonly port: number };
  /** The running component loops, by `instanceId/component` (a Windows service restart restarts one). */
  readonly loops: Map<string, SimulatedComponent>;
  standIns?: StandInServer;
}

export async function createFleet(scenario: Scenario, options: FleetOptions): Promise<Fleet> {
  const createdRoot = options.rootDir === undefined;
  const rootDir = options.rootDir ?? (await mkdtemp(join(tmpdir(), 'ktr-pg-')));
  if (/[:,\s]/.test(rootDir)) throw new Error(`rootDir must not contain ':', ',' or spaces: ${rootDir}`);
  await mkdir(rootDir, { recursive: true });
  const layers = new NamespaceLayers(join(rootDir, 'layers'));
  await layers.prepare();
  const apiUrl = new URL(options.kasm.url);
  const build: Build = {
    scenario,
    options,
    rootDir,
    layers,
    limiter: new Limiter(options.maxConcurrentSteps ?? 8),
    owner: options.configOwner ?? { uid: 1000, gid: 1000 },
    api: { host: apiUrl.hostname, port: Number(apiUrl.port || 443) },
    loops: new Map(),
  };
  try {
    const hosts = await buildHosts(build);
    return new ScriptFleet(build, hosts, createdRoot);
  } catch (error) {
    await build.standIns?.close();
    if (createdRoot) await rm(rootDir, { recursive: true, force: true });
    throw error;
  }
}

/** A component's first token, in the state the scenario gives it, signed by the Kasm API. */
async function tokenFor(
  { options: { kasm }, scenario }: Build,
  component: ComponentName,
  state: TokenState,
  id: string,
): Promise<string | undefined> {
  const { tokenLifetimeSeconds: lifetime, gracePeriodSeconds: grace } = kasm;
  const hb = scenario.kasm.heartbeatSeconds;
  const now = Date.now() / 1000;
  switch (state) {
    case 'valid':
      return kasm.mintToken(component, lifetime, id);
    case 'expiring': {
      // Expires one heartbeat from now, rounded up to JWT's whole seconds: the component's first
      // heartbeat comes one heartbeat after start, and Kasm has it refresh *before* exp.
      const exp = Math.ceil(now + hb);
      return kasm.mintToken(component, exp - now, id);
    }
    case 'in-grace':
      return kasm.mintToken(component, -grace / 2, id);
    case 'expired':
      return kasm.mintToken(component, -(grace + lifetime), id);
    case 'missing':
      return undefined;
    case 'garbage':
      return randomBytes(36).toString('base64url');
  }
}

async function buildHosts(build: Build): Promise<Map<string, HostEntry>> {
  const hosts = new Map<string, HostEntry>();
  const { agents } = build.options;
  for (const [index, h] of build.scenario.hosts.entries()) {
    const root = join(build.rootDir, 'hosts', h.id);
    await mkdir(root, { recursive: true });
    // The one place that chooses a host's class by its platform.
    const host =
      h.platform === 'Linux'
        ? await createLinuxHost(build, h, index, root)
        : await createWindowsHost(build, h, index, root);
    const agent = agents && host instanceof LinuxHost ? new RealAgent({ host, ...agents }) : undefined;
    hosts.set(h.id, {
      ...initialInstance(h, index),
      host,
      ...(agent && agents ? { agent, agentCheckIn: () => agents.messageDelivery.checkIn(h.id) } : {}),
    });
  }
  return hosts;
}

async function createLinuxHost(
  build: Build,
  h: HostScenario,
  index: number,
  root: string,
): Promise<LinuxHost> {
  const host = new LinuxHost({
    id: h.id,
    root,
    fleetRoot: build.rootDir,
    layers: build.layers,
    limiter: build.limiter,
    opensslMissing: h.opensslMissing,
    owner: build.owner,
    ipAddress: ipAddress(index),
    apiHost: build.api.host,
    apiPort: build.api.port,
  });
  const setups = [];
  for (const name of LINUX_COMPONENTS) {
    const c = h.components[name];
    if (!c) continue;
    const componentId = randomUUID();
    setups.push({
      name,
      token: await tokenFor(build, name, c.token, componentId),
      componentId,
      running: c.running,
      readOnly: c.readOnly,
      ...(c.trap ? { trap: c.trap } : {}),
    });
  }
  await host.create(setups);
  return host;
}

async function createWindowsHost(
  build: Build,
  h: HostScenario,
  index: number,
  root: string,
): Promise<WindowsHost> {
  if (!build.standIns) {
    build.standIns = new StandInServer();
    await build.standIns.start();
    if (!findPwsh()) {
      const count = build.scenario.hosts.filter((x) => x.platform === 'Windows').length;
      process.stderr.write(
        `proving ground: warning: ${pwshMissingReason()}; every step on the ${count} Windows host(s) of this scenario will fail.\n`,
      );
    }
  }
  const host = new WindowsHost({
    id: h.id,
    root,
    limiter: build.limiter,
    standIns: build.standIns,
    pwshHome: join(build.rootDir, 'pwsh-home'),
    computerName: computerName(h, index),
    onServiceRestart: async () => {
      await build.loops.get(`${h.id}/windows`)?.restart();
    },
  });
  const c = h.components.windows;
  const componentId = randomUUID();
  await host.create(
    c && {
      token: await tokenFor(build, 'windows', c.token, componentId),
      componentId,
      running: c.running,
      readOnly: c.readOnly,
    },
    build.api,
  );
  return host;
}

/** Hosts that run the documents' real scripts (and, with `hostModel: "agent"`, the real SSM Agent). */
class ScriptFleet extends LifecycleFleet<HostEntry> implements Fleet {
  readonly rootDir: string;
  readonly heartbeatSeconds: number;
  private readonly kasm: KasmAdminApi;
  private readonly loops: Map<string, SimulatedComponent>;
  protected readonly lifecycle: InstanceLifecycle<HostEntry>;
  private stopping: Promise<void> | undefined;

  constructor(
    private readonly build: Build,
    private readonly hosts: ReadonlyMap<string, HostEntry>,
    private readonly createdRoot: boolean,
  ) {
    super();
    this.rootDir = build.rootDir;
    this.heartbeatSeconds = build.scenario.kasm.heartbeatSeconds;
    this.kasm = build.options.kasm;
    this.loops = build.loops;
    this.lifecycle = new InstanceLifecycle(hosts, awsTimingFor(build.scenario), {
      running: (e, runs) => {
        if (runs) {
          this.startLoops(e);
          void e.agent?.start();
        } else {
          void this.stopLoops(e.scenario.id);
          void e.agent?.stop();
        }
      },
      left: (e) => {
        void e.agent?.stop();
        build.options.agents?.messageDelivery.forget(e.scenario.id);
      },
      // Only the agent drops: the host and its components keep running (a real agent is stopped).
      agentDropped: (e) => void e.agent?.stop(),
    });
  }

  /** The Windows-only operations (stand-ins, ACLs) are an error on any other host. */
  private windowsHost(id: string): WindowsHost {
    const { host } = this.entry(id);
    if (!(host instanceof WindowsHost)) throw new Error(`${id} is not a Windows host`);
    return host;
  }

  private startLoops({ host }: HostEntry): void {
    for (const name of host.installed()) {
      const key = `${host.id}/${name}`;
      if (this.loops.has(key)) continue;
      const component = new SimulatedComponent({
        ...host.componentOptions(name),
        apiUrl: this.kasm.url,
        ca: this.kasm.ca,
        heartbeatSeconds: this.heartbeatSeconds,
        tokenLifetimeSeconds: this.kasm.tokenLifetimeSeconds,
      });
      this.loops.set(key, component);
      component.start();
    }
  }

  private async stopLoops(id: string): Promise<void> {
    const stops: Promise<void>[] = [];
    for (const [key, loop] of this.loops) {
      if (!key.startsWith(`${id}/`)) continue;
      this.loops.delete(key);
      stops.push(loop.stop());
    }
    await Promise.all(stops);
  }

  nodes(): readonly SimulatedNode[] {
    return [...this.hosts.values()].map((e) =>
      nodeOf(e, this.build.options.fleetTag, agentView(e, this.lifecycle.runs(e))),
    );
  }

  deliversByAgent(id: string): boolean {
    return this.hosts.get(id)?.agent !== undefined;
  }

  realAgent(id: string): RealAgent | undefined {
    return this.entry(id).agent;
  }

  async agentsCheckedIn(timeoutMs: number): Promise<void> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const waiting = [...this.hosts.values()].filter(
        (e) => e.agent !== undefined && this.lifecycle.runs(e) && e.agentCheckIn?.() === undefined,
      );
      if (waiting.length === 0) return;
      const failed = waiting.find((e) => e.agent?.running === false && e.agent.failure !== undefined);
      if (failed) throw new Error(`the real SSM Agent of ${failed.scenario.id} ${failed.agent?.failure}`);
      if (Date.now() > until) {
        const ids = waiting.map((e) => e.scenario.id).join(', ');
        throw new Error(
          `the real SSM Agent did not check in within ${timeoutMs} ms on ${ids} (its log: ${waiting[0]?.agent?.logPath})`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }

  async runStep(run: StepRun): Promise<StepResult> {
    return this.lifecycle.hostForStep(run.instanceId).host.runStep(run);
  }

  start(): void {
    if (this.stopping) return;
    this.lifecycle.start();
  }

  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.lifecycle.stop();
      const hosts = [...this.hosts.values()];
      await Promise.all(hosts.map((e) => e.agent?.stop()));
      await Promise.all([...this.loops.values()].map((l) => l.stop()));
      this.loops.clear();
      await Promise.all(hosts.map((e) => e.host.abortAll()));
      await this.build.standIns?.close();
      if (this.build.options.keepFiles) return;
      if (this.createdRoot) await rm(this.rootDir, { recursive: true, force: true });
      else {
        await rm(join(this.rootDir, 'hosts'), { recursive: true, force: true });
        await rm(join(this.rootDir, 'layers'), { recursive: true, force: true });
      }
    })();
    return this.stopping;
  }

  state(): FleetState {
    const state: FleetState = {};
    for (const e of this.hosts.values()) {
      const components: Record<string, ComponentState> = {};
      for (const name of e.host.installed()) components[name] = this.componentState(e, name);
      state[e.scenario.id] = components;
    }
    return state;
  }

  private componentState(e: HostEntry, name: ComponentName): ComponentState {
    const token = this.readToken(e.scenario.id, name);
    const tokenValid = token !== undefined && this.kasm.checkToken(token).valid;
    let mode: number | undefined;
    const file = this.registrationFilePath(e.scenario.id, name);
    try {
      mode = statSync(file).mode;
    } catch {
      mode = undefined;
    }
    const trapped = e.host.canary(name);
    const canary = trapped ? { canary: trapped } : {};
    if (mode === undefined) return { tokenValid, registrationFile: 'absent', ...canary };
    const acl = e.host.fileAcl(file);
    return {
      tokenValid,
      registrationFile: 'present',
      registrationFileMode: octal(mode),
      ...(acl ? { registrationFileAcl: acl } : {}),
      ...canary,
    };
  }

  hostRoot(id: string): string {
    return this.entry(id).host.root;
  }

  strayTokenFiles(token: string): Record<string, string[]> {
    const stray: Record<string, string[]> = {};
    for (const e of this.hosts.values()) {
      const { host } = e;
      const keep = new Set(host.installed().map((name) => this.registrationFilePath(e.scenario.id, name)));
      const found = filesHolding(host.root, token, keep).map((path) => host.hostPath(path) ?? path);
      if (found.length > 0) stray[e.scenario.id] = found;
    }
    return stray;
  }

  configPath(id: string, component: ComponentName): string {
    return this.entry(id).host.configPath(component);
  }

  readToken(id: string, component: ComponentName): string | undefined {
    try {
      const doc = parseDocument(readRegularFileSync(this.configPath(id, component)));
      return stringAt(doc, COMPONENTS[component].tokenPath);
    } catch {
      return undefined;
    }
  }

  async writeToken(id: string, component: ComponentName, token: string | undefined): Promise<void> {
    await writeConfigValue(this.configPath(id, component), COMPONENTS[component].tokenPath, token);
  }

  readLog(id: string, component: ComponentName): string {
    try {
      return readFileSync(this.entry(id).host.logPath(component), 'utf8');
    } catch {
      return '';
    }
  }

  registrationFilePath(id: string, component: ComponentName): string {
    return join(dirname(this.configPath(id, component)), REGISTRATION_FILE);
  }

  async placeRegistrationFile(
    id: string,
    component: ComponentName,
    content: string,
    opts: { mode?: number; uid?: number; gid?: number } = {},
  ): Promise<void> {
    const path = this.registrationFilePath(id, component);
    const config = await stat(this.configPath(id, component));
    await writeFile(path, content);
    await chown(path, opts.uid ?? config.uid, opts.gid ?? config.gid).catch(
      (error: NodeJS.ErrnoException) => {
        if (error.code !== 'EPERM') throw error;
      },
    );
    await chmod(path, opts.mode ?? 0o600);
  }

  registrationFile(id: string, component: ComponentName): RegistrationFileInfo | undefined {
    const path = this.registrationFilePath(id, component);
    try {
      const st = statSync(path);
      return { content: readRegularFileSync(path), mode: octal(st.mode), uid: st.uid, gid: st.gid };
    } catch {
      return undefined;
    }
  }

  setRunning(id: string, component: ComponentName, running: boolean): void {
    this.entry(id).host.setRunning(component, running);
  }

  standInCalls(id: string): readonly StandInCall[] {
    return [...this.windowsHost(id).standInCalls];
  }

  setWindowsOwner(id: string, path: string, sid: string): void {
    this.windowsHost(id).setOwner(path, sid);
  }

  windowsAcl(id: string, path: string): WindowsAclView | undefined {
    return this.windowsHost(id).aclOf(path);
  }

  addWindowsAce(id: string, path: string, sid: string, rights: string): void {
    this.windowsHost(id).addAce(path, sid, rights);
  }

  component(id: string, component: ComponentName): SimulatedComponent | undefined {
    return this.loops.get(`${id}/${component}`);
  }

  async waitForHeartbeats(count = 1): Promise<void> {
    await Promise.all([...this.loops.values()].map((l) => l.waitForHeartbeats(count)));
  }
}

/**
 * What SSM knows of a node's agent. A real agent (`hostModel: "agent"`) is Online once it has checked in
 * (UpdateInstanceInformation) and while its process runs, and reports its own version; a modelled one
 * follows the scenario's timing and `agentVersion`.
 */
function agentView(
  e: HostEntry,
  runs: boolean,
): Pick<SimulatedNode, 'online' | 'agentVersion' | 'lastPingAt'> {
  if (e.agent === undefined) return scheduledAgent(e, runs);
  const checkIn = e.agentCheckIn?.();
  const online = runs && e.agent.running && checkIn !== undefined;
  return {
    online,
    agentVersion: checkIn?.agentVersion ?? e.scenario.agentVersion,
    ...(online || checkIn === undefined ? {} : { lastPingAt: checkIn.lastAt }),
  };
}

/** Regular files below `root` (symlinks not followed) whose content holds a form of `token`. */
function filesHolding(root: string, token: string, keep: ReadonlySet<string>): string[] {
  const forms = [token, Buffer.from(token).toString('base64'), Buffer.from(`${token}\n`).toString('base64')]
    .filter((f) => f.length >= 8)
    .map((f) => Buffer.from(f));
  const found: string[] = [];
  const walk = (dir: string): void => {
    let entries: Dirent[];
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.isFile() && !(keep.has(path) && entry.name === REGISTRATION_FILE)) {
        try {
          if (lstatSync(path).size > 16 * 1024 * 1024) continue;
          const content = readFileSync(path);
          if (forms.some((form) => content.includes(form))) found.push(path);
        } catch {
          // vanished meanwhile
        }
      }
    }
  };
  walk(root);
  return found.sort();
}
