/**
 * `hostModel: "modelled"` (scenario.ts, `hostModel`): a fleet whose Linux hosts answer the probe and push
 * documents from a model of what `shared/documents/linux/*.sh` print and do, with no processes, no
 * namespaces and no files, cheap enough for 10,000 hosts on a 2-core machine.
 *
 * The lines printed are the host line protocol, described once in shared/documents/README.md; this
 * model prints the Linux scripts' lines in the scripts' order. What it models of the scripts' work:
 * - both: each parameter from its `SSM_*` variable or, where an agent before 3.3.2746.0 set none, from
 *   the value it spliced into the script's fallback line (see {@link scriptParameters});
 *   `host error=missing-parameters` for an agent that passed neither.
 * - probe: stale sealing keys (older than KEY_TTL) removed; with `KeyPair=create`, or `KeyPair=auto` and a
 *   component locked out (exp + GraceSeconds not after the host clock, no file waiting), a sealing key kept
 *   per RunId (never a `key error=`); `unseal=0` and no key on an `opensslMissing` host; a `comp` line
 *   per installed component.
 * - push: refused past `NotAfter` or without an entry for `AWS_SSM_INSTANCE_ID`; the checks `fail_all`
 *   makes before unsealing, in its order; RSA-OAEP-SHA256 unseal with the host's key (removed afterwards,
 *   and on every way out); `registration_token.txt` written (0600, the config directory's owner) unless
 *   the component is not installed (`config-missing`), the entry is not a regular file
 *   (`target-not-regular`, traps `dir` and `symlink`), a regular one already waits (`push=skipped
 *   reason=already-waiting`), the config was saved after the key was made (`push=skipped
 *   reason=config-changed`) or its config directory is read-only (`write-denied`); the wait for
 *   consumption polled once a (host) second. A push's check and write happen in one turn of the event
 *   loop, so two overlapping pushes on a modelled host are serialized as the host's lock serializes
 *   them. No other push reason is modelled (`host-busy`, `dir-unsafe`, `dir-owner-unknown`,
 *   `dir-on-user-mount`, `setpriv-missing`, `write-failed`, `write-unconfirmed`, `target-replaced`),
 *   nor the sweep of what a killed step left (a model is never killed half-way).
 *
 * Simulation shortcuts (say so wherever a figure depends on them):
 * - Sealing keys come from a pool of KEY_POOL_SIZE (modelled-scripts.ts) RSA-2048 key pairs generated once per fleet and
 *   shared across hosts: keygen costs 100–250 ms of CPU, 10,000 of them would dominate the run. Each key
 *   is still per RunId on its host (made by the probe, removed by the push), and a push can only unseal
 *   what was sealed to the key its own probe printed.
 * - Components are evaluated lazily: a component's heartbeats (every `kasm.heartbeatSeconds` since it
 *   started) are played forward whenever anyone looks at it (a probe, a push's wait, `state()`,
 *   `readToken`). A refresh or registration issues a real RS256 JWT with the Kasm Admin API's own signing
 *   code (`KasmAdminApi.issueToken`), in-process, with the heartbeat's time as issue time: no HTTPS.
 *   The Admin API's health is taken as it is when the heartbeats are played, not as it was at each one.
 * - Windows hosts and the traps that attack a running step (`race`, `race-group`, `fifo`) are not
 *   modelled (the scenario validator refuses them).
 * - `strayTokenFiles` is always empty: the model writes nothing but the registration file.
 *
 * The parts: modelled-components.ts (hosts, components, heartbeats played lazily), modelled-scripts.ts
 * (the probe and the push), instance-lifecycle.ts (instances and agents, shared with fleet.ts), and this
 * file (the Fleet the AWS server and the tests use).
 *
 * With `awsTiming`, a probe takes aws-timing.ts REAL_COSTS.probeRun (+ keygen with KeyPair=create), a push
 * pushRun before its wait, and its wait polls once a real second (1 / timeScale simulated seconds).
 */
import { randomUUID } from 'node:crypto';
import { awsTimingFor } from './aws-timing.ts';
import type { Fleet, FleetOptions, FleetState, RegistrationFileInfo } from './fleet.ts';
import { octal } from './fleet-common.ts';
import type { Owner } from './hosts/linux-host.ts';
import {
  InstanceLifecycle,
  initialInstance,
  LifecycleFleet,
  nodeOf,
  scheduledAgent,
} from './instance-lifecycle.ts';
import type { KasmAdminApi } from './kasm/admin-api.ts';
import {
  COMPONENTS,
  type ComponentName,
  isLinuxComponent,
  LINUX_COMPONENTS,
  LINUX_INSTALL_ROOT,
  type LinuxComponentName,
  REGISTRATION_FILE,
} from './kasm/catalog.ts';
import {
  ComponentPlayer,
  expOf,
  type ModelComponent,
  type ModelHost,
  type PoolKey,
} from './modelled-components.ts';
import { KEY_POOL_SIZE, keyPool, ModelledScripts } from './modelled-scripts.ts';
import type { Scenario } from './scenario.ts';
import type { SimulatedNode, StepResult, StepRun } from './types.ts';

export async function createModelledFleet(scenario: Scenario, options: FleetOptions): Promise<Fleet> {
  const player = new ComponentPlayer(options.kasm, scenario.kasm.heartbeatSeconds);
  const hosts = new Map<string, ModelHost>();
  for (const [index, h] of scenario.hosts.entries()) {
    const components = new Map<LinuxComponentName, ModelComponent>();
    for (const name of LINUX_COMPONENTS) {
      const c = h.components[name];
      if (!c) continue;
      const id = randomUUID();
      const token = player.initialToken(name, c.token, id);
      components.set(name, {
        name,
        id,
        readOnly: c.readOnly,
        trap: c.trap,
        running: c.running,
        token,
        exp: expOf(token),
        file: undefined,
        savedMs: 0,
        lastBeat: 0,
      });
    }
    const host: ModelHost = {
      ...initialInstance(h, index),
      components,
      keys: new Map(),
      active: false,
      node: undefined as unknown as SimulatedNode,
    };
    host.node = nodeOf(host, options.fleetTag, scheduledAgent(host, host.online && host.state === 'running'));
    hosts.set(h.id, host);
  }
  return new ModelledFleet(scenario, options, hosts, player, await keyPool(KEY_POOL_SIZE));
}

class ModelledFleet extends LifecycleFleet<ModelHost> implements Fleet {
  readonly rootDir = '';
  readonly heartbeatSeconds: number;
  private readonly kasm: KasmAdminApi;
  private readonly owner: Owner;
  protected readonly lifecycle: InstanceLifecycle<ModelHost>;
  private readonly scripts: ModelledScripts;
  private nodeList: SimulatedNode[] | undefined;

  constructor(
    scenario: Scenario,
    options: FleetOptions,
    private readonly hosts: ReadonlyMap<string, ModelHost>,
    private readonly player: ComponentPlayer,
    pool: readonly PoolKey[],
  ) {
    super();
    this.heartbeatSeconds = scenario.kasm.heartbeatSeconds;
    this.kasm = options.kasm;
    this.owner = options.configOwner ?? { uid: 1000, gid: 1000 };
    const timing = awsTimingFor(scenario);
    this.scripts = new ModelledScripts(player, timing, pool, this.owner);
    this.lifecycle = new InstanceLifecycle(hosts, timing, {
      running: (e, runs) => player.activate(e, runs),
      changed: (e) => {
        e.node = nodeOf(e, options.fleetTag, scheduledAgent(e, this.lifecycle.runs(e)));
        this.nodeList = undefined;
      },
    });
  }

  private installed(id: string, name: ComponentName): ModelComponent {
    const c = isLinuxComponent(name) ? this.entry(id).components.get(name) : undefined;
    if (!c) throw new Error(`${name} is not installed on modelled host ${id}`);
    return c;
  }

  /** The component, its heartbeats played up to now. */
  private current(id: string, name: ComponentName): ModelComponent {
    const c = this.installed(id, name);
    this.player.advance(this.entry(id), c);
    return c;
  }

  nodes(): readonly SimulatedNode[] {
    this.nodeList ??= [...this.hosts.values()].map((h) => h.node);
    return this.nodeList;
  }

  node(id: string): SimulatedNode | undefined {
    return this.hosts.get(id)?.node;
  }

  // Modelled hosts have no real agent.
  realAgent(): undefined {
    return undefined;
  }

  async agentsCheckedIn(): Promise<void> {}

  runStep(run: StepRun): Promise<StepResult> {
    return this.scripts.run(this.lifecycle.hostForStep(run.instanceId), run);
  }

  start(): void {
    this.lifecycle.start();
  }

  async stop(): Promise<void> {
    this.lifecycle.stop();
  }

  state(): FleetState {
    const state: FleetState = {};
    const now = Date.now();
    for (const e of this.hosts.values()) {
      const components: FleetState[string] = {};
      for (const c of e.components.values()) {
        this.player.advance(e, c, now);
        const tokenValid = c.token !== undefined && this.kasm.checkToken(c.token, now).valid;
        const canary = c.trap ? { canary: 'intact' as const } : {};
        // As fleet.ts stats the path from outside the host: the `dir` trap's directory (0755) is
        // present; the `symlink` trap's link points at a host path and dangles from outside: absent.
        const mode = c.file ? c.file.mode : c.trap === 'dir' ? 0o755 : undefined;
        components[c.name] =
          mode === undefined
            ? { tokenValid, registrationFile: 'absent', ...canary }
            : { tokenValid, registrationFile: 'present', registrationFileMode: octal(mode), ...canary };
      }
      state[e.scenario.id] = components;
    }
    return state;
  }

  hostRoot(): never {
    return noFiles('hostRoot');
  }

  strayTokenFiles(): Record<string, string[]> {
    return {};
  }

  configPath(id: string, name: ComponentName): string {
    this.installed(id, name);
    return `${LINUX_INSTALL_ROOT}/${COMPONENTS[name].configFile}`;
  }

  readToken(id: string, name: ComponentName): string | undefined {
    return this.current(id, name).token;
  }

  async writeToken(id: string, name: ComponentName, token: string | undefined): Promise<void> {
    const c = this.current(id, name);
    c.token = token;
    c.exp = expOf(token);
    c.savedMs = Date.now();
  }

  readLog(): string {
    return '';
  }

  registrationFilePath(id: string, name: ComponentName): string {
    this.installed(id, name);
    return `${LINUX_INSTALL_ROOT}/${COMPONENTS[name].configFile.replace(/[^/]+$/, '')}${REGISTRATION_FILE}`;
  }

  async placeRegistrationFile(
    id: string,
    name: ComponentName,
    content: string,
    opts: { mode?: number; uid?: number; gid?: number } = {},
  ): Promise<void> {
    const c = this.current(id, name);
    c.file = {
      content,
      mtimeMs: Date.now(),
      mode: opts.mode ?? 0o600,
      uid: opts.uid ?? this.owner.uid,
      gid: opts.gid ?? this.owner.gid,
    };
  }

  registrationFile(id: string, name: ComponentName): RegistrationFileInfo | undefined {
    const { file } = this.current(id, name);
    return file && { content: file.content, mode: octal(file.mode), uid: file.uid, gid: file.gid };
  }

  setRunning(id: string, name: ComponentName, running: boolean): void {
    this.current(id, name).running = running;
  }

  component(): undefined {
    return undefined;
  }

  standInCalls(): never {
    return noFiles('standInCalls');
  }

  setWindowsOwner(): never {
    return noFiles('setWindowsOwner');
  }

  windowsAcl(): never {
    return noFiles('windowsAcl');
  }

  addWindowsAce(): never {
    return noFiles('addWindowsAce');
  }

  async waitForHeartbeats(count = 1): Promise<void> {
    // Heartbeats are played when looked at: waiting `count` heartbeats is waiting that long.
    await new Promise((resolve) => setTimeout(resolve, count * this.heartbeatSeconds * 1000 + 50));
  }
}

function noFiles(what: string): never {
  throw new Error(`${what}: modelled hosts have no files or Windows stand-ins (hostModel "modelled")`);
}
