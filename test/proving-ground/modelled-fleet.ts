/**
 * `hostModel: "modelled"` (contract section 3): a fleet whose Linux hosts answer the probe and push
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
 * - Sealing keys come from a pool of {@link KEY_POOL_SIZE} RSA-2048 key pairs generated once per fleet and
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
 * With `awsTiming`, a probe takes {@link REAL_COSTS}.probeRun (+ keygen with KeyPair=create), a push
 * pushRun before its wait, and its wait polls once a real second (1 / timeScale simulated seconds).
 */
import {
  constants,
  createPrivateKey,
  generateKeyPair,
  type KeyObject,
  privateDecrypt,
  randomBytes,
  randomUUID,
} from 'node:crypto';
import { promisify } from 'node:util';
import {
  answer,
  deliveryFor,
  missingParametersLine,
  type PushAnswer,
  probeLines,
  pushLines,
  roleOfScript,
  SKIP_REASONS,
  unfinished,
} from '../../shared/host-protocol.ts';
import type { ComponentSighting, PushOutcome, SealingKey, TokenSighting } from '../../shared/host-report.ts';
import { type AwsTiming, awsTimingFor } from './aws-timing.ts';
import type { Fleet, FleetOptions, FleetState } from './fleet.ts';
import {
  agentCheckInSeconds,
  computerName,
  FleetTimers,
  hostById,
  ipAddress,
  octal,
} from './fleet-common.ts';
import {
  COMPONENTS,
  type ComponentName,
  isLinuxComponent,
  LINUX_COMPONENTS,
  LINUX_INSTALL_ROOT,
  type LinuxComponentName,
  REGISTRATION_FILE,
} from './kasm/catalog.ts';
import { refreshMarginSeconds } from './kasm/component-rules.ts';
import type { HostScenario, Scenario, TokenState, Trap } from './scenario.ts';
import type { InstanceState, SimulatedNode, StepResult, StepRun } from './types.ts';

/**
 * The scripts' fallback line for agents before 3.3.2746.0, after the agent spliced the value in:
 * `if [ -z "${SSM_Name+x}" ]; then SSM_Name='value'; fi` (shared/documents/linux/*.sh).
 */
const SPLICED = /^if \[ -z "\$\{SSM_([A-Za-z0-9]+)\+x\}" \]; then SSM_\1='([^']*)'; fi$/gm;

/**
 * The parameters as the script sees them: its `SSM_*` variable where the agent set one, else the value
 * the agent spliced into the fallback line; a placeholder left as it was (`{{Name}}`: nothing spliced)
 * counts as not given, as the script's `parameters_missing` says.
 */
export function scriptParameters(run: Pick<StepRun, 'env' | 'script'>): Record<string, string | undefined> {
  const seen: Record<string, string | undefined> = { ...run.env };
  for (const [, name, value] of run.script.matchAll(SPLICED)) {
    const key = `SSM_${name}`;
    if (name === undefined || key in run.env) continue;
    seen[key] = value === `{{${name}}}` ? undefined : value;
  }
  return seen;
}

/** RSA-2048 key pairs shared by all modelled hosts (a simulation shortcut, see above). */
export const KEY_POOL_SIZE = 16;
/** The scripts' KEY_TTL: a sealing key older than this is removed, and refused by the push. */
const KEY_TTL_SECONDS = 900;
const SECRET = /^[A-Za-z0-9+/=._-]+$/;
const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

interface PoolKey {
  readonly privateKey: KeyObject;
  readonly spki: string;
}

interface ModelComponent {
  readonly name: LinuxComponentName;
  readonly id: string;
  readonly readOnly: boolean;
  readonly trap: Trap | undefined;
  running: boolean;
  /** The config's token; undefined: no token key. */
  token: string | undefined;
  /** `exp` of `token`, decoded once per token (undefined: does not decode). */
  exp: number | undefined;
  /** A regular `registration_token.txt` next to the config. */
  file: { content: string; mtimeMs: number; mode: number; uid: number; gid: number } | undefined;
  /** When the config was last saved (ms; 0: before the fleet started): a new token was written. */
  savedMs: number;
  /** Time of the last heartbeat played (ms); the next one is a heartbeat later. */
  lastBeat: number;
}

interface ModelHost {
  readonly scenario: HostScenario;
  readonly index: number;
  readonly components: Map<LinuxComponentName, ModelComponent>;
  /** Sealing keys in the host's /run: RunId -> pool key and when it was made. */
  readonly keys: Map<string, { key: PoolKey; madeMs: number }>;
  online: boolean;
  state: InstanceState;
  agentCheckedIn: boolean;
  agentLostAt: Date | undefined;
  /** Components play heartbeats only while the host runs and the fleet is started. */
  active: boolean;
  node: SimulatedNode;
}

export async function createModelledFleet(scenario: Scenario, options: FleetOptions): Promise<Fleet> {
  const { kasm, fleetTag } = options;
  const owner = options.configOwner ?? { uid: 1000, gid: 1000 };
  const hb = scenario.kasm.heartbeatSeconds;
  const hbMs = hb * 1000;
  const lifetime = kasm.tokenLifetimeSeconds;
  const grace = kasm.gracePeriodSeconds;
  const margin = refreshMarginSeconds(hb, lifetime);
  const timing: AwsTiming = awsTimingFor(scenario);
  const pool = await keyPool(KEY_POOL_SIZE);
  let keyCounter = 0;

  const initialToken = (name: LinuxComponentName, state: TokenState, id: string): string | undefined => {
    const now = Date.now() / 1000;
    switch (state) {
      case 'valid':
        return kasm.issueToken(name, id, Math.floor(now + lifetime));
      case 'expiring':
        return kasm.issueToken(name, id, Math.ceil(now + hb));
      case 'in-grace':
        return kasm.issueToken(name, id, Math.floor(now - grace / 2));
      case 'expired':
        return kasm.issueToken(name, id, Math.floor(now - (grace + lifetime)));
      case 'missing':
        return undefined;
      case 'garbage':
        return randomBytes(36).toString('base64url');
    }
  };

  const hosts = new Map<string, ModelHost>();
  for (const [index, h] of scenario.hosts.entries()) {
    const components = new Map<LinuxComponentName, ModelComponent>();
    for (const name of LINUX_COMPONENTS) {
      const c = h.components[name];
      if (!c) continue;
      const id = randomUUID();
      const token = initialToken(name, c.token, id);
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
      scenario: h,
      index,
      components,
      keys: new Map(),
      online: h.online,
      state: h.state,
      agentCheckedIn: h.startsAfterSeconds === undefined,
      agentLostAt: undefined,
      active: false,
      node: undefined as unknown as SimulatedNode,
    };
    host.node = nodeOf(host);
    hosts.set(h.id, host);
  }
  let nodeList: SimulatedNode[] | undefined;
  const changed = (h: ModelHost): void => {
    h.node = nodeOf(h);
    nodeList = undefined;
  };

  function nodeOf(e: ModelHost): SimulatedNode {
    return {
      instanceId: e.scenario.id,
      platform: 'Linux',
      online: e.online && e.state === 'running' && e.agentCheckedIn && e.agentLostAt === undefined,
      state: e.state,
      agentVersion: e.scenario.agentVersion,
      ...(e.agentLostAt === undefined ? {} : { lastPingAt: e.agentLostAt }),
      tags: {
        Name: `kasm-linux-${e.index + 1}`,
        ...(e.scenario.managed ? { [fleetTag.key]: fleetTag.value } : {}),
      },
      computerName: computerName(e.scenario, e.index),
      ipAddress: ipAddress(e.index),
    };
  }

  // ------------------------------------------------------------------ components, played lazily

  const issue = (c: ModelComponent, atMs: number): void => {
    c.token = kasm.issueToken(c.name, c.id, Math.floor(atMs / 1000 + lifetime), atMs);
    c.exp = expOf(c.token);
    c.savedMs = atMs;
  };

  /** Plays the component's heartbeats up to `nowMs` (kasm/component-rules.ts, `beat`, step by step). */
  const advance = (host: ModelHost, c: ModelComponent, nowMs = Date.now()): void => {
    if (!host.active) return;
    const lastAtOrBefore = (t: number) => c.lastBeat + Math.floor((t - c.lastBeat) / hbMs) * hbMs;
    for (;;) {
      const next = c.lastBeat + hbMs;
      if (next > nowMs) return;
      // Stopped, or no token (needs a redeploy; never reads the file): nothing changes on any beat.
      if (!c.running || c.token === undefined) {
        c.lastBeat = lastAtOrBefore(nowMs);
        return;
      }
      if (c.exp !== undefined && c.exp - next / 1000 > margin) {
        // Nothing to do until the first beat within `margin` of exp: skip the beats before it.
        const dueMs = (c.exp - margin) * 1000;
        const beats = Math.max(1, Math.ceil((dueMs - c.lastBeat) / hbMs));
        const beat = c.lastBeat + beats * hbMs;
        if (beat > nowMs) {
          c.lastBeat = lastAtOrBefore(nowMs);
          return;
        }
        c.lastBeat = beat - hbMs;
        continue;
      }
      c.lastBeat = next;
      // An unhealthy Admin API answers 503 to refresh and register alike: nothing changes.
      if (!kasm.isHealthy()) {
        c.lastBeat = lastAtOrBefore(nowMs);
        return;
      }
      const check = kasm.checkToken(c.token, next);
      if (check.signatureValid && check.exp !== undefined && next / 1000 < check.exp + grace) {
        issue(c, next); // refresh_token
        continue;
      }
      // Refresh refused: register with registration_token.txt when it is there.
      const file = c.file;
      if (file && file.content.replace(/[\r\n]+$/, '').trim() === kasm.registrationToken()) {
        issue(c, next);
        if (!c.readOnly) c.file = undefined;
        continue;
      }
      // Refused again on every later beat until something changes (a file, the API, the process).
      c.lastBeat = lastAtOrBefore(nowMs);
      return;
    }
  };

  const activate = (host: ModelHost, active: boolean): void => {
    const now = Date.now();
    for (const c of host.components.values()) {
      advance(host, c, now);
      if (active && !host.active) c.lastBeat = now;
    }
    host.active = active;
  };

  // ------------------------------------------------------------------ the documents

  /** The component as the script reads it: `header.payload` of a JWT, `none` or `unreadable`. */
  const sighting = (host: ModelHost, c: ModelComponent, nowMs: number): ComponentSighting => {
    advance(host, c, nowMs);
    let token: TokenSighting;
    if (c.token === undefined || c.token === '' || c.token === 'null' || c.token === '~')
      token = { kind: 'none' };
    else if (c.token.length <= 8000 && JWT_SHAPE.test(c.token))
      token = { kind: 'jwt', headerAndPayload: c.token.slice(0, c.token.lastIndexOf('.')) };
    else token = { kind: 'unreadable' };
    const age = c.file ? Math.floor(nowMs / 1000) - Math.floor(c.file.mtimeMs / 1000) : null;
    return { name: c.name, token, registrationFileAgeSeconds: age, running: c.running };
  };

  const removeStaleKeys = (host: ModelHost, nowMs: number): void => {
    for (const [runId, k] of host.keys)
      if (nowMs - k.madeMs > KEY_TTL_SECONDS * 1000) host.keys.delete(runId);
  };

  const sleep = (ms: number, signal?: AbortSignal): Promise<boolean> =>
    new Promise((resolve) => {
      if (signal?.aborted) return resolve(false);
      const timer = setTimeout(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve(true);
      }, ms);
      const onAbort = () => {
        clearTimeout(timer);
        resolve(false);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
    });

  const ok = (stdout: string, exitCode = 0): StepResult => ({
    exitCode,
    stdout,
    stderr: '',
    timedOut: false,
  });
  /** SIGKILL: no clean-up ran, and the output stops where the step was (no end marker). */
  const killed = (stdout = ''): StepResult => ({ exitCode: -1, stdout, stderr: '', timedOut: false });

  const probe = async (host: ModelHost, run: StepRun): Promise<StepResult> => {
    const env = scriptParameters(run);
    if (!env.SSM_InstallRoot || !env.SSM_RunId || !env.SSM_KeyPair || !env.SSM_GraceSeconds) {
      return ok(answer('probe', [missingParametersLine]), 1);
    }
    const cost = timing.ms('probeRun');
    if (cost > 0 && !(await sleep(cost, run.signal))) return killed();
    const now = Date.now();
    removeStaleKeys(host, now);
    const grace = Number(env.SSM_GraceSeconds);
    const installed = env.SSM_InstallRoot === LINUX_INSTALL_ROOT ? [...host.components.values()] : [];
    const components = installed.map((c) => sighting(host, c, now));
    // The script's locked_out: a JWT whose exp + GraceSeconds is not after the host's clock, no file waiting.
    const lockedOut = installed.some(
      (c, i) =>
        c.exp !== undefined &&
        components[i]?.token.kind === 'jwt' &&
        components[i]?.registrationFileAgeSeconds === null &&
        now / 1000 >= c.exp + grace,
    );
    const canUnseal = !host.scenario.opensslMissing;
    let sealingKey: SealingKey | null = null;
    if ((env.SSM_KeyPair === 'create' || (env.SSM_KeyPair === 'auto' && lockedOut)) && canUnseal) {
      const keygen = timing.ms('keygen');
      if (keygen > 0 && !(await sleep(keygen, run.signal))) return killed();
      const key = pool[(host.index + keyCounter++) % pool.length]!;
      host.keys.set(env.SSM_RunId, { key, madeMs: now });
      sealingKey = { kind: 'ready', spkiDerBase64: key.spki };
    }
    const report = { hostEpochSeconds: Math.floor(now / 1000), canUnseal, sealingKey, components };
    return ok(answer('probe', probeLines(report)));
  };

  const push = async (host: ModelHost, run: StepRun): Promise<StepResult> => {
    const env = scriptParameters(run);
    if (
      !env.SSM_InstallRoot ||
      !env.SSM_RunId ||
      !env.SSM_Deliveries ||
      !env.SSM_WaitSeconds ||
      !env.SSM_NotAfter
    ) {
      return ok(answer('push', [missingParametersLine]), 1);
    }
    const runId = env.SSM_RunId;
    // The script's EXIT trap: the key is gone after this command, whatever happens.
    const done = (answered: PushAnswer): StepResult => {
      host.keys.delete(runId);
      return ok(answer('push', pushLines(answered)));
    };
    const cost = timing.ms('pushRun');
    if (cost > 0 && !(await sleep(cost, run.signal))) return killed();
    if (!/^[0-9]+$/.test(env.SSM_NotAfter) || Math.floor(Date.now() / 1000) > Number(env.SSM_NotAfter)) {
      return done({ result: 'too-late' });
    }
    const entry = deliveryFor(env.SSM_Deliveries, env.AWS_SSM_INSTANCE_ID ?? '');
    if (!entry) return done({ result: 'no-delivery' });
    const failAll = (reason: string) =>
      done({ result: 'not-unsealed', components: entry.components, reason });

    if (host.scenario.opensslMissing) return failAll('openssl-missing');
    let now = Date.now();
    const held = host.keys.get(runId);
    if (!held) return failAll('key-missing');
    if (now - held.madeMs > KEY_TTL_SECONDS * 1000) return failAll('key-expired');
    removeStaleKeys(host, now);
    let secret: string;
    try {
      secret = privateDecrypt(
        { key: held.key.privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' },
        Buffer.from(entry.sealed, 'base64'),
      )
        .toString('utf8')
        .replace(/\n+$/, ''); // $(...) drops trailing newlines
    } catch {
      return failAll('unseal-failed');
    }
    host.keys.delete(runId);
    if (!SECRET.test(secret)) return failAll('unsealed-value-invalid');

    const status = new Map<LinuxComponentName, string>();
    const delivered: ModelComponent[] = [];
    const wantedNames = new Set(entry.components);
    now = Date.now();
    for (const name of LINUX_COMPONENTS) {
      if (!wantedNames.has(name)) continue;
      const c = host.components.get(name);
      let outcome: string;
      if (c) advance(host, c, now);
      if (!c) outcome = 'config-missing';
      else if (c.trap === 'dir' || c.trap === 'symlink') outcome = 'target-not-regular';
      else if (c.file) outcome = 'already-waiting';
      else if (c.savedMs > held.madeMs) outcome = 'config-changed';
      else if (c.readOnly) outcome = 'write-denied';
      else {
        c.file = { content: `${secret}\n`, mtimeMs: now, mode: 0o600, uid: owner.uid, gid: owner.gid };
        outcome = 'written';
        delivered.push(c);
      }
      status.set(name, outcome);
    }

    // The wait: once a (host) second, are the delivered files still there?
    // WaitSeconds is in the run's (simulated) seconds; the script polls once a real second, which with
    // awsTiming is 1 / timeScale simulated seconds: timeScale polls per simulated second.
    const pollsPerSecond = timing.enabled ? timing.timeScale : 1;
    const polls = Number(env.SSM_WaitSeconds) * pollsPerSecond;
    const stepMs = 1000 / pollsPerSecond;
    let poll = 0;
    while (poll < polls) {
      const t = Date.now();
      let left = false;
      for (const c of delivered) {
        advance(host, c, t);
        if (c.file) left = true;
      }
      if (!left) break;
      if (!(await sleep(stepMs, run.signal))) return killed(unfinished('push', ['host result=unsealed']));
      poll += 1;
    }
    now = Date.now();
    const outcomes: PushOutcome[] = [];
    for (const [name, s] of status) {
      const c = host.components.get(name);
      const skip = SKIP_REASONS.find((r) => r === s);
      if (c && s === 'written') outcomes.push({ kind: 'written', after: sighting(host, c, now) });
      else if (c && skip) outcomes.push({ kind: 'skipped', reason: skip, after: sighting(host, c, now) });
      else outcomes.push({ kind: 'failed', name, reason: s });
    }
    return ok(
      answer(
        'push',
        pushLines({ result: 'unsealed', waitedSeconds: Math.floor(poll / pollsPerSecond), outcomes }),
      ),
    );
  };

  // ------------------------------------------------------------------ the fleet

  let started = false;
  let stopping = false;
  const timers = new FleetTimers();
  const runs = (e: ModelHost): boolean => e.online && e.state === 'running';
  const checkInSeconds = (): number => agentCheckInSeconds(timing);

  const entry = (id: string): ModelHost => hostById(hosts, id);
  const dropAgent = (e: ModelHost): void => {
    e.agentLostAt ??= new Date();
    changed(e);
  };
  const component = (id: string, name: ComponentName): ModelComponent => {
    const c = isLinuxComponent(name) ? entry(id).components.get(name) : undefined;
    if (!c) throw new Error(`${name} is not installed on modelled host ${id}`);
    return c;
  };
  const hostConfigPath = (name: ComponentName): string =>
    `${LINUX_INSTALL_ROOT}/${COMPONENTS[name].configFile}`;
  const noFiles = (what: string) => (): never => {
    throw new Error(`${what}: modelled hosts have no files or Windows stand-ins (hostModel "modelled")`);
  };

  const fleet: Fleet = {
    rootDir: '',
    heartbeatSeconds: hb,

    nodes() {
      nodeList ??= [...hosts.values()].map((h) => h.node);
      return nodeList;
    },

    node: (id) => hosts.get(id)?.node,

    // Modelled hosts have no real agent.
    realAgent: () => undefined,
    agentsCheckedIn: async () => undefined,

    async runStep(run) {
      const e = entry(run.instanceId);
      if (stopping) throw new Error('The simulated fleet is stopped');
      if (!runs(e)) throw new Error(`runStep called for offline host ${run.instanceId}`);
      if (run.action !== 'aws:runShellScript') {
        return {
          exitCode: 1,
          stdout: '',
          stderr: `${run.action} is not supported on simulated Linux host ${e.scenario.id}: pwsh is not installed.\n`,
          timedOut: false,
        };
      }
      const role = roleOfScript(run.script);
      if (role === 'probe') return probe(e, run);
      if (role === 'push') return push(e, run);
      return {
        exitCode: 1,
        stdout: '',
        stderr: 'proving ground: a modelled host runs only the probe and push documents\n',
        timedOut: false,
      };
    },

    start() {
      if (started || stopping) return;
      started = true;
      for (const e of hosts.values()) {
        if (runs(e)) activate(e, true);
        const { startsAfterSeconds, goesOfflineAfterSeconds } = e.scenario;
        if (startsAfterSeconds !== undefined) {
          timers.after(startsAfterSeconds, () => fleet.setState(e.scenario.id, 'running'));
        }
        if (goesOfflineAfterSeconds !== undefined) {
          timers.after(goesOfflineAfterSeconds, () => dropAgent(e));
        }
      }
    },

    async stop() {
      stopping = true;
      timers.stop();
    },

    state(): FleetState {
      const state: FleetState = {};
      const now = Date.now();
      for (const e of hosts.values()) {
        const components: FleetState[string] = {};
        for (const c of e.components.values()) {
          advance(e, c, now);
          const tokenValid = c.token !== undefined && kasm.checkToken(c.token, now).valid;
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
    },

    hostRoot: noFiles('hostRoot'),
    strayTokenFiles: () => ({}),

    dropAgent(id) {
      dropAgent(entry(id));
    },

    setOnline(id, online) {
      const e = entry(id);
      if (e.online === online) return;
      e.online = online;
      changed(e);
      if (started && !stopping) activate(e, runs(e));
    },

    setState(id, state) {
      const e = entry(id);
      if (e.state === state) return;
      e.state = state;
      if (state !== 'running') {
        e.agentCheckedIn = false;
        changed(e);
        if (started && !stopping) activate(e, false);
        return;
      }
      changed(e);
      if (started && !stopping && runs(e)) activate(e, true);
      timers.after(checkInSeconds(), () => {
        e.agentCheckedIn = true;
        changed(e);
      });
    },

    configPath: (id, name) => {
      component(id, name);
      return hostConfigPath(name);
    },

    readToken(id, name) {
      const e = entry(id);
      const c = component(id, name);
      advance(e, c);
      return c.token;
    },

    async writeToken(id, name, token) {
      const e = entry(id);
      const c = component(id, name);
      advance(e, c);
      c.token = token;
      c.exp = expOf(token);
      c.savedMs = Date.now();
    },

    readLog: () => '',

    registrationFilePath: (id, name) => {
      component(id, name);
      return `${LINUX_INSTALL_ROOT}/${COMPONENTS[name].configFile.replace(/[^/]+$/, '')}${REGISTRATION_FILE}`;
    },

    async placeRegistrationFile(id, name, content, opts = {}) {
      const e = entry(id);
      const c = component(id, name);
      advance(e, c);
      c.file = {
        content,
        mtimeMs: Date.now(),
        mode: opts.mode ?? 0o600,
        uid: opts.uid ?? owner.uid,
        gid: opts.gid ?? owner.gid,
      };
    },

    registrationFile(id, name) {
      const e = entry(id);
      const c = component(id, name);
      advance(e, c);
      return (
        c.file && { content: c.file.content, mode: octal(c.file.mode), uid: c.file.uid, gid: c.file.gid }
      );
    },

    setRunning(id, name, running) {
      const e = entry(id);
      const c = component(id, name);
      advance(e, c);
      c.running = running;
    },

    component: () => undefined,
    standInCalls: noFiles('standInCalls'),
    setWindowsOwner: noFiles('setWindowsOwner'),
    windowsAcl: noFiles('windowsAcl'),
    addWindowsAce: noFiles('addWindowsAce'),

    async waitForHeartbeats(count = 1) {
      // Heartbeats are played when looked at: waiting `count` heartbeats is waiting that long.
      await new Promise((resolve) => setTimeout(resolve, count * hbMs + 50));
    },
  };
  return fleet;
}

/** `exp` of a JWT's payload, without checking its signature (as a component decodes its own token). */
function expOf(token: string | undefined): number | undefined {
  if (token === undefined) return undefined;
  const parts = token.split('.');
  if (parts.length !== 3) return undefined;
  try {
    const payload = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')) as { exp?: unknown };
    return typeof payload.exp === 'number' ? payload.exp : undefined;
  } catch {
    return undefined;
  }
}

async function keyPool(size: number): Promise<PoolKey[]> {
  const generate = promisify(generateKeyPair);
  const keys: PoolKey[] = [];
  for (let i = 0; i < size; i++) {
    const { publicKey, privateKey } = await generate('rsa', { modulusLength: 2048 });
    keys.push({
      privateKey: createPrivateKey(privateKey.export({ type: 'pkcs8', format: 'pem' })),
      spki: publicKey.export({ type: 'spki', format: 'der' }).toString('base64'),
    });
  }
  return keys;
}
