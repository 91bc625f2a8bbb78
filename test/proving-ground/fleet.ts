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
import {
  agentCheckInSeconds,
  computerName,
  FleetTimers,
  hostById,
  ipAddress,
  octal,
} from './fleet-common.ts';
import { NamespaceLayers } from './hosts/layers.ts';
import { Limiter } from './hosts/limiter.ts';
import { LinuxHost, type Owner } from './hosts/linux-host.ts';
import { findPwsh, pwshMissingReason } from './hosts/pwsh.ts';
import type { SimulatedHost } from './hosts/simulated-host.ts';
import { type WindowsAclView, WindowsHost } from './hosts/windows-host.ts';
import { type StandInCall, StandInServer } from './hosts/windows-stand-ins.ts';
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

interface HostEntry {
  readonly scenario: HostScenario;
  readonly index: number;
  readonly host: SimulatedHost;
  online: boolean;
  /** EC2 state now: a `startsAfterSeconds` host goes from stopped to running on its own. */
  state: InstanceState;
  /** False while a just-started host's agent has not checked in yet. */
  agentCheckedIn: boolean;
  /** When the agent stopped answering (`goesOfflineAfterSeconds`); ConnectionLost from then on. */
  agentLostAt: Date | undefined;
  /** `hostModel: "agent"`, Linux: the real SSM Agent of this host, and what it last told SSM of itself. */
  readonly agent?: RealAgent;
  readonly agentCheckIn?: () => AgentCheckIn | undefined;
}

export async function createFleet(scenario: Scenario, options: FleetOptions): Promise<Fleet> {
  const { kasm, fleetTag } = options;
  const createdRoot = options.rootDir === undefined;
  const rootDir = options.rootDir ?? (await mkdtemp(join(tmpdir(), 'ktr-pg-')));
  if (/[:,\s]/.test(rootDir)) throw new Error(`rootDir must not contain ':', ',' or spaces: ${rootDir}`);
  await mkdir(rootDir, { recursive: true });
  const layers = new NamespaceLayers(join(rootDir, 'layers'));
  await layers.prepare();
  const limiter = new Limiter(options.maxConcurrentSteps ?? 8);
  const owner = options.configOwner ?? { uid: 1000, gid: 1000 };
  const apiUrl = new URL(kasm.url);
  const api = { host: apiUrl.hostname, port: Number(apiUrl.port || 443) };
  const hb = scenario.kasm.heartbeatSeconds;
  const timing = awsTimingFor(scenario);
  const checkInSeconds = (): number => agentCheckInSeconds(timing);
  let standIns: StandInServer | undefined;
  const loops = new Map<string, SimulatedComponent>();

  const tokenFor = async (
    component: ComponentName,
    state: TokenState,
    id: string,
  ): Promise<string | undefined> => {
    const { tokenLifetimeSeconds: lifetime, gracePeriodSeconds: grace } = kasm;
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
  };

  /** The one place that chooses a host's class by its platform. */
  const createHost = async (h: HostScenario, index: number, root: string): Promise<SimulatedHost> => {
    if (h.platform === 'Linux') {
      const host = new LinuxHost({
        id: h.id,
        root,
        fleetRoot: rootDir,
        layers,
        limiter,
        opensslMissing: h.opensslMissing,
        owner,
        ipAddress: ipAddress(index),
        apiHost: api.host,
        apiPort: api.port,
      });
      const setups = [];
      for (const name of LINUX_COMPONENTS) {
        const c = h.components[name];
        if (!c) continue;
        const componentId = randomUUID();
        setups.push({
          name,
          token: await tokenFor(name, c.token, componentId),
          componentId,
          running: c.running,
          readOnly: c.readOnly,
          ...(c.trap ? { trap: c.trap } : {}),
        });
      }
      await host.create(setups);
      return host;
    }
    if (!standIns) {
      standIns = new StandInServer();
      await standIns.start();
      if (!findPwsh()) {
        const count = scenario.hosts.filter((x) => x.platform === 'Windows').length;
        process.stderr.write(
          `proving ground: warning: ${pwshMissingReason()}; every step on the ${count} Windows host(s) of this scenario will fail.\n`,
        );
      }
    }
    const host = new WindowsHost({
      id: h.id,
      root,
      limiter,
      standIns,
      pwshHome: join(rootDir, 'pwsh-home'),
      computerName: computerName(h, index),
      onServiceRestart: async () => {
        await loops.get(`${h.id}/windows`)?.restart();
      },
    });
    const c = h.components.windows;
    const componentId = randomUUID();
    await host.create(
      c && {
        token: await tokenFor('windows', c.token, componentId),
        componentId,
        running: c.running,
        readOnly: c.readOnly,
      },
      api,
    );
    return host;
  };

  const hosts = new Map<string, HostEntry>();
  try {
    for (const [index, h] of scenario.hosts.entries()) {
      const root = join(rootDir, 'hosts', h.id);
      await mkdir(root, { recursive: true });
      const host = await createHost(h, index, root);
      const agent =
        options.agents && host instanceof LinuxHost ? new RealAgent({ host, ...options.agents }) : undefined;
      const mds = options.agents?.messageDelivery;
      hosts.set(h.id, {
        scenario: h,
        index,
        host,
        ...initialTiming(h),
        ...(agent && mds ? { agent, agentCheckIn: () => mds.checkIn(h.id) } : {}),
      });
    }
  } catch (error) {
    await standIns?.close();
    if (createdRoot) await rm(rootDir, { recursive: true, force: true });
    throw error;
  }

  let started = false;
  let stopping: Promise<void> | undefined;
  const timers = new FleetTimers();
  /** Components run only on a powered (`running`) host that is not switched off (`online`). */
  const runs = (e: HostEntry): boolean => e.online && e.state === 'running';

  const entry = (id: string): HostEntry => hostById(hosts, id);
  // Only the agent drops: the host and its components keep running (a real agent is stopped).
  const dropAgent = (e: HostEntry): void => {
    e.agentLostAt ??= new Date();
    void e.agent?.stop();
  };

  const configPath = (id: string, component: ComponentName): string => entry(id).host.configPath(component);

  /** The Windows-only operations (stand-ins, ACLs) are an error on any other host. */
  const windowsHost = (id: string): WindowsHost => {
    const { host } = entry(id);
    if (!(host instanceof WindowsHost)) throw new Error(`${id} is not a Windows host`);
    return host;
  };

  const registrationFilePath = (id: string, component: ComponentName): string =>
    join(dirname(configPath(id, component)), REGISTRATION_FILE);

  const readToken = (id: string, component: ComponentName): string | undefined => {
    try {
      const doc = parseDocument(readRegularFileSync(configPath(id, component)));
      return stringAt(doc, COMPONENTS[component].tokenPath);
    } catch {
      return undefined;
    }
  };

  const startLoops = ({ host }: HostEntry): void => {
    for (const name of host.installed()) {
      const key = `${host.id}/${name}`;
      if (loops.has(key)) continue;
      const component = new SimulatedComponent({
        ...host.componentOptions(name),
        apiUrl: kasm.url,
        ca: kasm.ca,
        heartbeatSeconds: hb,
        tokenLifetimeSeconds: kasm.tokenLifetimeSeconds,
      });
      loops.set(key, component);
      component.start();
    }
  };

  const stopLoops = async (id: string): Promise<void> => {
    const stops: Promise<void>[] = [];
    for (const [key, loop] of loops) {
      if (!key.startsWith(`${id}/`)) continue;
      loops.delete(key);
      stops.push(loop.stop());
    }
    await Promise.all(stops);
  };

  const fleet: Fleet = {
    rootDir,
    heartbeatSeconds: hb,

    nodes(): readonly SimulatedNode[] {
      return [...hosts.values()].map((e) => ({
        instanceId: e.scenario.id,
        platform: e.scenario.platform,
        ...agentView(e, runs(e)),
        state: e.state,
        tags: {
          Name: `kasm-${e.scenario.platform.toLowerCase()}-${e.index + 1}`,
          ...(e.scenario.managed ? { [fleetTag.key]: fleetTag.value } : {}),
        },
        computerName: computerName(e.scenario, e.index),
        ipAddress: ipAddress(e.index),
      }));
    },

    deliversByAgent: (id) => hosts.get(id)?.agent !== undefined,

    realAgent: (id) => entry(id).agent,

    async agentsCheckedIn(timeoutMs) {
      const until = Date.now() + timeoutMs;
      for (;;) {
        const waiting = [...hosts.values()].filter(
          (e) => e.agent !== undefined && runs(e) && e.agentCheckIn?.() === undefined,
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
    },

    async runStep(run: StepRun): Promise<StepResult> {
      const e = entry(run.instanceId);
      if (stopping) throw new Error('The simulated fleet is stopped');
      if (!runs(e)) throw new Error(`runStep called for offline host ${run.instanceId}`);
      return e.host.runStep(run);
    },

    start(): void {
      if (started || stopping) return;
      started = true;
      for (const e of hosts.values()) {
        if (runs(e)) {
          startLoops(e);
          void e.agent?.start();
        }
        const { startsAfterSeconds, goesOfflineAfterSeconds } = e.scenario;
        if (startsAfterSeconds !== undefined) {
          timers.after(startsAfterSeconds, () => {
            e.state = 'running';
            if (runs(e)) {
              startLoops(e);
              void e.agent?.start();
            }
            timers.after(checkInSeconds(), () => {
              e.agentCheckedIn = true;
            });
          });
        }
        if (goesOfflineAfterSeconds !== undefined) {
          timers.after(goesOfflineAfterSeconds, () => dropAgent(e));
        }
      }
    },

    stop(): Promise<void> {
      stopping ??= (async () => {
        timers.stop();
        await Promise.all([...hosts.values()].map((e) => e.agent?.stop()));
        await Promise.all([...loops.values()].map((l) => l.stop()));
        loops.clear();
        await Promise.all([...hosts.values()].map((e) => e.host.abortAll()));
        await standIns?.close();
        if (!options.keepFiles) {
          if (createdRoot) await rm(rootDir, { recursive: true, force: true });
          else {
            await rm(join(rootDir, 'hosts'), { recursive: true, force: true });
            await rm(join(rootDir, 'layers'), { recursive: true, force: true });
          }
        }
      })();
      return stopping;
    },

    state(): FleetState {
      const state: FleetState = {};
      for (const e of hosts.values()) {
        const components: Record<string, ComponentState> = {};
        for (const name of e.host.installed()) {
          const token = readToken(e.scenario.id, name);
          const tokenValid = token !== undefined && kasm.checkToken(token).valid;
          let mode: number | undefined;
          const file = registrationFilePath(e.scenario.id, name);
          try {
            mode = statSync(file).mode;
          } catch {
            mode = undefined;
          }
          const acl = mode !== undefined ? e.host.fileAcl(file) : undefined;
          const trapped = e.host.canary(name);
          const canary = trapped ? { canary: trapped } : {};
          components[name] =
            mode === undefined
              ? { tokenValid, registrationFile: 'absent', ...canary }
              : {
                  tokenValid,
                  registrationFile: 'present',
                  registrationFileMode: octal(mode),
                  ...(acl ? { registrationFileAcl: acl } : {}),
                  ...canary,
                };
        }
        state[e.scenario.id] = components;
      }
      return state;
    },

    hostRoot: (id) => entry(id).host.root,

    strayTokenFiles(token) {
      const stray: Record<string, string[]> = {};
      for (const e of hosts.values()) {
        const { host } = e;
        const keep = new Set(host.installed().map((name) => registrationFilePath(e.scenario.id, name)));
        const found = filesHolding(host.root, token, keep).map((path) => host.hostPath(path) ?? path);
        if (found.length > 0) stray[e.scenario.id] = found;
      }
      return stray;
    },

    dropAgent(id) {
      dropAgent(entry(id));
    },

    setOnline(id, online) {
      const e = entry(id);
      if (e.online === online) return;
      e.online = online;
      if (!started || stopping) return;
      if (runs(e)) {
        startLoops(e);
        void e.agent?.start();
      } else {
        void stopLoops(id);
        void e.agent?.stop();
      }
    },

    setState(id, state) {
      const e = entry(id);
      if (e.state === state) return;
      e.state = state;
      if (state !== 'running') {
        e.agentCheckedIn = false;
        if (started && !stopping) void stopLoops(id);
        void e.agent?.stop();
        options.agents?.messageDelivery.forget(id);
        return;
      }
      if (started && !stopping && runs(e)) {
        startLoops(e);
        void e.agent?.start();
      }
      timers.after(checkInSeconds(), () => {
        e.agentCheckedIn = true;
      });
    },

    configPath,
    readToken,

    async writeToken(id, component, token) {
      await writeConfigValue(configPath(id, component), COMPONENTS[component].tokenPath, token);
    },

    readLog(id, component) {
      const path = entry(id).host.logPath(component);
      try {
        return readFileSync(path, 'utf8');
      } catch {
        return '';
      }
    },

    registrationFilePath,

    async placeRegistrationFile(id, component, content, opts = {}) {
      const path = registrationFilePath(id, component);
      const config = await stat(configPath(id, component));
      await writeFile(path, content);
      await chown(path, opts.uid ?? config.uid, opts.gid ?? config.gid).catch(
        (error: NodeJS.ErrnoException) => {
          if (error.code !== 'EPERM') throw error;
        },
      );
      await chmod(path, opts.mode ?? 0o600);
    },

    registrationFile(id, component) {
      const path = registrationFilePath(id, component);
      try {
        const st = statSync(path);
        return { content: readRegularFileSync(path), mode: octal(st.mode), uid: st.uid, gid: st.gid };
      } catch {
        return undefined;
      }
    },

    setRunning(id, component, running) {
      entry(id).host.setRunning(component, running);
    },

    standInCalls: (id) => [...windowsHost(id).standInCalls],
    setWindowsOwner: (id, path, sid) => windowsHost(id).setOwner(path, sid),
    windowsAcl: (id, path) => windowsHost(id).aclOf(path),
    addWindowsAce: (id, path, sid, rights) => windowsHost(id).addAce(path, sid, rights),

    component: (id, component) => loops.get(`${id}/${component}`),

    async waitForHeartbeats(count = 1) {
      await Promise.all([...loops.values()].map((l) => l.waitForHeartbeats(count)));
    },
  };
  return fleet;
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
  if (e.agent === undefined) {
    return {
      online: runs && e.agentCheckedIn && e.agentLostAt === undefined,
      agentVersion: e.scenario.agentVersion,
      ...(e.agentLostAt === undefined ? {} : { lastPingAt: e.agentLostAt }),
    };
  }
  const checkIn = e.agentCheckIn?.();
  const online = runs && e.agent.running && checkIn !== undefined;
  return {
    online,
    agentVersion: checkIn?.agentVersion ?? e.scenario.agentVersion,
    ...(online || checkIn === undefined ? {} : { lastPingAt: checkIn.lastAt }),
  };
}

function initialTiming(
  h: HostScenario,
): Pick<HostEntry, 'online' | 'state' | 'agentCheckedIn' | 'agentLostAt'> {
  return {
    online: h.online,
    state: h.state,
    agentCheckedIn: h.startsAfterSeconds === undefined,
    agentLostAt: undefined,
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
