/**
 * The fleet scenario file (docs/testing.md, "The proving ground"): types, defaults and a strict validator that
 * names every problem it finds, each with its JSON path.
 *
 * @example
 * ```ts
 * const scenario = loadScenario('test/scenarios/basic.json');
 * scenario.hosts[0].components.agent?.token; // 'expired'
 * ```
 */
import { readFileSync } from 'node:fs';
import { type ComponentName, isComponentName, LINUX_COMPONENTS, WINDOWS_COMPONENTS } from './kasm/catalog.ts';
import type { InstanceState, Platform } from './types.ts';

export const TOKEN_STATES = ['valid', 'expiring', 'in-grace', 'expired', 'missing', 'garbage'] as const;
export type TokenState = (typeof TOKEN_STATES)[number];

export interface KasmScenario {
  readonly healthy: boolean;
  readonly tokenLifetimeSeconds: number;
  readonly gracePeriodSeconds: number;
  readonly heartbeatSeconds: number;
}

export const TRAPS = ['dir', 'symlink', 'race', 'race-group', 'fifo'] as const;
/**
 * The config directory's unprivileged owner attacks the push: `dir` = registration_token.txt is already a
 * directory; `symlink` = it is already a symlink to a root-owned canary outside the directory; `race` =
 * while a step runs, the owner replaces every new entry in the directory with such a symlink;
 * `race-group` = as `race`, but the directory's group is root (gid 0, mode 0770) and the canary is
 * root:root 0660, so whatever runs with the directory's group can write it; `fifo` = while a step runs,
 * the owner keeps swapping the config file between a regular file and a FIFO that nobody writes.
 */
export type Trap = (typeof TRAPS)[number];

/** Traps whose attacker runs beside a step on the host: only a host running the real scripts has them. */
export const RUNNING_STEP_TRAPS: ReadonlySet<Trap> = new Set(['race', 'race-group', 'fifo']);

export interface ComponentScenario {
  readonly token: TokenState;
  readonly running: boolean;
  readonly readOnly: boolean;
  readonly trap?: Trap;
}

export interface HostScenario {
  readonly id: string;
  readonly platform: Platform;
  readonly online: boolean;
  readonly managed: boolean;
  readonly opensslMissing: boolean;
  readonly components: Readonly<Partial<Record<ComponentName, ComponentScenario>>>;
  /** EC2 state when the proving ground starts (`stopped` when `startsAfterSeconds` is set). */
  readonly state: InstanceState;
  /** Stopped at start, running after this many seconds, agent Online a few seconds later. */
  readonly startsAfterSeconds?: number;
  /** The agent stops answering (ConnectionLost) this many seconds after the start. */
  readonly goesOfflineAfterSeconds?: number;
  /** SSM Agent version the node reports; below 3.3.2746.0 scripts get no SSM_<Param> variables. */
  readonly agentVersion: string;
}

/** One operation's token bucket: `burst` calls at once, refilled at `ratePerSecond`. */
export interface ThrottleBucket {
  readonly ratePerSecond: number;
  readonly burst: number;
}

export interface FaultsScenario {
  readonly throttleRate: number;
  readonly serverErrorRate: number;
  /** Per-operation token buckets shared by every caller, on top of `throttleRate`. */
  readonly throttle: Readonly<Record<string, ThrottleBucket>>;
  /** How long after SendCommand its invocations stay invisible (eventual consistency). */
  readonly consistencyDelayMs: number;
  /** Seed of the PRNG that draws `throttleRate` / `serverErrorRate` faults: runs are reproducible. */
  readonly seed: number;
}

/** The SSM Agent version a scenario host reports unless it says otherwise (ENV_VAR-capable). */
export const CURRENT_AGENT_VERSION = '3.3.2746.0';
const AGENT_VERSION = /^\d{1,5}\.\d{1,5}\.\d{1,5}\.\d{1,5}$/;
const OPERATION = /^[A-Z][A-Za-z0-9]{2,63}$/;

/**
 * `scripts`: every host runs the documents' real bash or PowerShell; `modelled`: hosts answer from a model of
 * what the scripts print and do; `agent`: every Linux host runs the real Amazon SSM Agent, which fetches its
 * commands from the proving ground's message delivery service (Windows hosts as with `scripts`).
 */
export const HOST_MODELS = ['scripts', 'modelled', 'agent'] as const;
export type HostModel = (typeof HOST_MODELS)[number];

/** The real Kasm heartbeat, in seconds: `timeScale` = this / the scenario's `kasm.heartbeatSeconds`. */
export const REAL_HEARTBEAT_SECONDS = 30;

/** Real seconds per simulated second: the factor every AWS-like time cost is compressed by. */
export function timeScaleOf(scenario: Pick<Scenario, 'kasm'>): number {
  return REAL_HEARTBEAT_SECONDS / scenario.kasm.heartbeatSeconds;
}

export interface Scenario {
  /** Free text for the reader of the file; ignored by the proving ground. */
  readonly description?: string;
  /** `scripts` (default): hosts run the real bash / PowerShell; `modelled`: hosts answer from a model. */
  readonly hostModel: HostModel;
  /** AWS-like time costs (API latency, pick-up, script run times, boot), compressed by `timeScaleOf`. */
  readonly awsTiming: boolean;
  readonly kasm: KasmScenario;
  /** The secret's value exactly as stored (trailing newline and all); null: the secret does not exist. */
  readonly registrationToken: string | null;
  readonly hosts: readonly HostScenario[];
  readonly faults: FaultsScenario;
  /**
   * Fields the proving ground does not know, ignored and reported here. The format lets
   * scenarios grow optional fields, so an annotation must not make a scenario unusable.
   */
  readonly warnings?: readonly string[];
}

export const SCENARIO_DEFAULTS = {
  kasm: { healthy: true, tokenLifetimeSeconds: 120, gracePeriodSeconds: 60, heartbeatSeconds: 1 },
  host: {
    platform: 'Linux',
    online: true,
    managed: true,
    opensslMissing: false,
    state: 'running',
    agentVersion: CURRENT_AGENT_VERSION,
  },
  component: { running: true, readOnly: false },
  faults: { throttleRate: 0, serverErrorRate: 0, throttle: {}, consistencyDelayMs: 1000, seed: 1 },
} as const;

/** Thrown for a scenario that cannot be used; `problems` lists every problem, one sentence each. */
export class ScenarioError extends Error {
  readonly source: string;
  readonly problems: readonly string[];

  constructor(source: string, problems: readonly string[]) {
    super(`Scenario ${source} is invalid:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ScenarioError';
    this.source = source;
    this.problems = problems;
  }
}

const INSTANCE_ID = /^(i-([0-9a-f]{8}|[0-9a-f]{17})|mi-[0-9a-f]{17})$/;
const ID_EXPECTATION = '"i-" followed by 8 or 17 lowercase hex digits, or "mi-" followed by 17';

/** Reads and validates a scenario file. Throws `ScenarioError` listing every problem. */
export function loadScenario(path: string): Scenario {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ScenarioError(path, [`cannot read the file: ${(error as Error).message}`]);
  }
  return parseScenario(text, path);
}

/**
 * Validates a scenario and fills in defaults. `input` is the parsed JSON value, or the file's text.
 * Throws `ScenarioError` listing every problem, each prefixed with its path (`hosts[3].components.agent.token`).
 */
export function parseScenario(input: unknown, sourceName: string): Scenario {
  let value = input;
  if (typeof input === 'string') {
    try {
      value = JSON.parse(input);
    } catch (error) {
      throw new ScenarioError(sourceName, [`not valid JSON: ${(error as Error).message}`]);
    }
  }
  const v = new Validator();
  const scenario = v.scenario(value);
  if (v.problems.length > 0 || scenario === undefined) {
    throw new ScenarioError(sourceName, v.problems);
  }
  return v.warnings.length > 0 ? { ...scenario, warnings: v.warnings } : scenario;
}

type Json = Record<string, unknown>;

function show(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'an array';
  if (value !== null && typeof value === 'object') return 'an object';
  return JSON.stringify(value);
}

class Validator {
  readonly problems: string[] = [];
  readonly warnings: string[] = [];

  private problem(path: string, message: string): void {
    this.problems.push(`${path}: ${message}`);
  }

  private warn(path: string, message: string): void {
    this.warnings.push(`${path}: ${message}`);
  }

  private object(path: string, value: unknown, allowed: readonly string[]): Json | undefined {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      this.problem(path, `expected an object, got ${show(value)}`);
      return undefined;
    }
    for (const key of Object.keys(value)) {
      if (!allowed.includes(key)) {
        this.warn(join(path, key), `unknown field, ignored (known: ${allowed.join(', ')})`);
      }
    }
    return value as Json;
  }

  private boolean(path: string, value: unknown, fallback: boolean): boolean {
    if (value === undefined) return fallback;
    if (typeof value !== 'boolean') {
      this.problem(path, `expected true or false, got ${show(value)}`);
      return fallback;
    }
    return value;
  }

  private number(
    path: string,
    value: unknown,
    fallback: number,
    check: { min: number; minExclusive?: boolean; max?: number; label: string },
  ): number {
    if (value === undefined) return fallback;
    const ok =
      typeof value === 'number' &&
      Number.isFinite(value) &&
      (check.minExclusive ? value > check.min : value >= check.min) &&
      (check.max === undefined || value <= check.max);
    if (!ok) {
      this.problem(path, `expected ${check.label}, got ${show(value)}`);
      return fallback;
    }
    return value as number;
  }

  private oneOf<T extends string>(
    path: string,
    value: unknown,
    options: readonly T[],
    fallback?: T,
  ): T | undefined {
    if (value === undefined && fallback !== undefined) return fallback;
    if (typeof value !== 'string' || !(options as readonly string[]).includes(value)) {
      this.problem(path, `expected one of ${options.join('|')}, got ${show(value)}`);
      return undefined;
    }
    return value as T;
  }

  scenario(value: unknown): Scenario | undefined {
    const root = this.object('(top level)', value, [
      'description',
      'kasm',
      'registrationToken',
      'hosts',
      'faults',
      'hostModel',
      'awsTiming',
    ]);
    if (!root) return undefined;
    if (root.description !== undefined && typeof root.description !== 'string') {
      this.problem('description', `expected a string, got ${show(root.description)}`);
    }
    const kasm = this.kasm(root.kasm);
    let registrationToken: string | null = null;
    if (!('registrationToken' in root)) {
      this.problem(
        'registrationToken',
        'required: the secret value as stored (a string), or null when the secret does not exist',
      );
    } else if (root.registrationToken !== null && typeof root.registrationToken !== 'string') {
      this.problem('registrationToken', `expected a string or null, got ${show(root.registrationToken)}`);
    } else {
      registrationToken = root.registrationToken as string | null;
    }
    const hosts = this.hosts(root.hosts, kasm);
    const faults = this.faults(root.faults);
    const hostModel = this.oneOf<HostModel>('hostModel', root.hostModel, HOST_MODELS, 'scripts') ?? 'scripts';
    const awsTiming = this.boolean('awsTiming', root.awsTiming, false);
    if (hostModel === 'modelled') this.modelledHosts(hosts);
    const scenario: Scenario = { kasm, registrationToken, hosts, faults, hostModel, awsTiming };
    return typeof root.description === 'string' ? { description: root.description, ...scenario } : scenario;
  }

  /** What the host model does not cover: Windows hosts and the traps that attack a running step need the real scripts. */
  private modelledHosts(hosts: readonly HostScenario[]): void {
    hosts.forEach((h, i) => {
      if (h.platform === 'Windows') {
        this.problem(`hosts[${i}].platform`, 'hostModel "modelled" covers Linux hosts only; use "scripts"');
      }
      for (const [name, c] of Object.entries(h.components)) {
        if (c?.trap !== undefined && RUNNING_STEP_TRAPS.has(c.trap)) {
          this.problem(
            `hosts[${i}].components.${name}.trap`,
            `the "${c.trap}" trap needs a real host: use hostModel "scripts"`,
          );
        }
      }
    });
  }

  private kasm(value: unknown): KasmScenario {
    const d = SCENARIO_DEFAULTS.kasm;
    if (value === undefined) return { ...d };
    const o = this.object('kasm', value, [
      'healthy',
      'tokenLifetimeSeconds',
      'gracePeriodSeconds',
      'heartbeatSeconds',
    ]);
    if (!o) return { ...d };
    return {
      healthy: this.boolean('kasm.healthy', o.healthy, d.healthy),
      tokenLifetimeSeconds: this.number(
        'kasm.tokenLifetimeSeconds',
        o.tokenLifetimeSeconds,
        d.tokenLifetimeSeconds,
        {
          min: 1,
          label: 'a number of seconds of at least 1',
        },
      ),
      gracePeriodSeconds: this.number('kasm.gracePeriodSeconds', o.gracePeriodSeconds, d.gracePeriodSeconds, {
        min: 0,
        label: 'a number of seconds of at least 0',
      }),
      heartbeatSeconds: this.number('kasm.heartbeatSeconds', o.heartbeatSeconds, d.heartbeatSeconds, {
        min: 0,
        minExclusive: true,
        max: 3600,
        label: 'a number of seconds greater than 0 and at most 3600',
      }),
    };
  }

  private hosts(value: unknown, kasm: KasmScenario): HostScenario[] {
    if (!Array.isArray(value)) {
      this.problem('hosts', `required: expected an array of hosts, got ${show(value)}`);
      return [];
    }
    const hosts: HostScenario[] = [];
    const seen = new Map<string, number>();
    value.forEach((entry, index) => {
      const host = this.host(`hosts[${index}]`, entry, kasm);
      if (!host) return;
      const first = seen.get(host.id);
      if (first !== undefined) {
        this.problem(`hosts[${index}].id`, `duplicate of hosts[${first}].id (${JSON.stringify(host.id)})`);
        return;
      }
      seen.set(host.id, index);
      hosts.push(host);
    });
    return hosts;
  }

  private host(path: string, value: unknown, kasm: KasmScenario): HostScenario | undefined {
    const o = this.object(path, value, [
      'id',
      'platform',
      'online',
      'managed',
      'opensslMissing',
      'components',
      'state',
      'startsAfterSeconds',
      'goesOfflineAfterSeconds',
      'agentVersion',
    ]);
    if (!o) return undefined;
    const d = SCENARIO_DEFAULTS.host;
    let id: string | undefined;
    if (typeof o.id !== 'string' || !INSTANCE_ID.test(o.id)) {
      this.problem(
        `${path}.id`,
        `${o.id === undefined ? 'required: ' : ''}expected ${ID_EXPECTATION}, got ${show(o.id)}`,
      );
    } else {
      id = o.id;
    }
    const platform =
      this.oneOf<Platform>(`${path}.platform`, o.platform, ['Linux', 'Windows'], d.platform) ?? d.platform;
    const online = this.boolean(`${path}.online`, o.online, d.online);
    const managed = this.boolean(`${path}.managed`, o.managed, d.managed);
    const opensslMissing = this.boolean(`${path}.opensslMissing`, o.opensslMissing, d.opensslMissing);
    if (platform === 'Windows' && opensslMissing) {
      this.warn(`${path}.opensslMissing`, 'has no effect on a Windows host (only Linux hosts use openssl)');
    }
    const components = this.components(`${path}.components`, o.components, platform, kasm);
    const timing = this.hostTiming(path, o, online);
    if (id === undefined) return undefined;
    return { id, platform, online, managed, opensslMissing, components, ...timing };
  }

  /** Host fields for real-world behaviour: EC2 state over time and the agent (the scenario file: README.md). */
  private hostTiming(
    path: string,
    o: Json,
    online: boolean,
  ): Pick<HostScenario, 'state' | 'startsAfterSeconds' | 'goesOfflineAfterSeconds' | 'agentVersion'> {
    const d = SCENARIO_DEFAULTS.host;
    const states: readonly InstanceState[] = ['running', 'stopped', 'terminated'];
    const given = this.oneOf<InstanceState>(`${path}.state`, o.state, states, d.state) ?? d.state;
    const seconds = { min: 0, max: 86400, label: 'a number of seconds between 0 and 86400' };
    const startsAfter =
      o.startsAfterSeconds === undefined
        ? undefined
        : this.number(`${path}.startsAfterSeconds`, o.startsAfterSeconds, 0, seconds);
    const offlineAfter =
      o.goesOfflineAfterSeconds === undefined
        ? undefined
        : this.number(`${path}.goesOfflineAfterSeconds`, o.goesOfflineAfterSeconds, 0, seconds);
    if (startsAfter !== undefined && o.state !== undefined && given !== 'running') {
      this.problem(
        `${path}.startsAfterSeconds`,
        `a host that starts later is stopped until then by itself; remove state ${JSON.stringify(given)}`,
      );
    }
    if (offlineAfter !== undefined && given !== 'running') {
      this.problem(
        `${path}.goesOfflineAfterSeconds`,
        `needs a running host, but state is ${JSON.stringify(given)}`,
      );
    }
    if (offlineAfter !== undefined && !online) {
      this.warn(`${path}.goesOfflineAfterSeconds`, 'has no effect on a host with online: false');
    }
    let agentVersion: string = d.agentVersion;
    if (o.agentVersion !== undefined) {
      if (typeof o.agentVersion === 'string' && AGENT_VERSION.test(o.agentVersion))
        agentVersion = o.agentVersion;
      else
        this.problem(
          `${path}.agentVersion`,
          `expected an SSM Agent version such as "3.3.2746.0", got ${show(o.agentVersion)}`,
        );
    }
    return {
      state: startsAfter === undefined ? given : 'stopped',
      ...(startsAfter === undefined ? {} : { startsAfterSeconds: startsAfter }),
      ...(offlineAfter === undefined ? {} : { goesOfflineAfterSeconds: offlineAfter }),
      agentVersion,
    };
  }

  private components(
    path: string,
    value: unknown,
    platform: Platform,
    kasm: KasmScenario,
  ): Partial<Record<ComponentName, ComponentScenario>> {
    if (value === undefined) return {};
    const allowed: readonly string[] = platform === 'Linux' ? LINUX_COMPONENTS : WINDOWS_COMPONENTS;
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      this.problem(
        path,
        `expected an object keyed by component name (${allowed.join(', ')}), got ${show(value)}`,
      );
      return {};
    }
    const result: Partial<Record<ComponentName, ComponentScenario>> = {};
    for (const [name, entry] of Object.entries(value)) {
      const p = `${path}.${name}`;
      if (!isComponentName(name)) {
        this.problem(p, `unknown component (${platform} hosts have ${allowed.join(', ')})`);
        continue;
      }
      if (!allowed.includes(name)) {
        this.problem(
          p,
          name === 'windows'
            ? 'the windows component exists only on Windows hosts (this host is Linux)'
            : `a Linux component, but this host is Windows (Windows hosts have ${allowed.join(', ')})`,
        );
        continue;
      }
      const component = this.component(p, entry, kasm);
      if (component) result[name] = component;
    }
    return result;
  }

  private component(path: string, value: unknown, kasm: KasmScenario): ComponentScenario | undefined {
    const o = this.object(path, value, ['token', 'running', 'readOnly', 'trap']);
    if (!o) return undefined;
    let token: TokenState | undefined;
    if (o.token === undefined) {
      this.problem(`${path}.token`, `required: expected one of ${TOKEN_STATES.join('|')}`);
    } else {
      token = this.oneOf(`${path}.token`, o.token, TOKEN_STATES);
    }
    if (token === 'in-grace' && kasm.gracePeriodSeconds <= 0) {
      this.problem(`${path}.token`, '"in-grace" needs kasm.gracePeriodSeconds greater than 0');
    }
    const running = this.boolean(`${path}.running`, o.running, SCENARIO_DEFAULTS.component.running);
    const readOnly = this.boolean(`${path}.readOnly`, o.readOnly, SCENARIO_DEFAULTS.component.readOnly);
    const trap = o.trap === undefined ? undefined : this.oneOf(`${path}.trap`, o.trap, TRAPS);
    if (token === undefined) return undefined;
    return trap === undefined ? { token, running, readOnly } : { token, running, readOnly, trap };
  }

  private throttle(value: unknown): Record<string, ThrottleBucket> {
    if (value === undefined) return {};
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      this.problem('faults.throttle', `expected an object keyed by operation name, got ${show(value)}`);
      return {};
    }
    const buckets: Record<string, ThrottleBucket> = {};
    for (const [operation, raw] of Object.entries(value)) {
      const path = `faults.throttle.${operation}`;
      if (!OPERATION.test(operation)) {
        this.problem(path, 'expected an AWS operation name such as "SendCommand" as the key');
        continue;
      }
      const o = this.object(path, raw, ['ratePerSecond', 'burst']);
      if (!o) continue;
      if (o.ratePerSecond === undefined) this.problem(`${path}.ratePerSecond`, 'required: calls per second');
      if (o.burst === undefined) this.problem(`${path}.burst`, 'required: calls allowed at once');
      const ratePerSecond = this.number(`${path}.ratePerSecond`, o.ratePerSecond, 1, {
        min: 0,
        minExclusive: true,
        max: 10000,
        label: 'a number of calls per second greater than 0 and at most 10000',
      });
      const burst = this.number(`${path}.burst`, o.burst, 1, {
        min: 1,
        max: 100000,
        label: 'a whole number of calls between 1 and 100000',
      });
      if (typeof o.burst === 'number' && !Number.isInteger(o.burst)) {
        this.problem(
          `${path}.burst`,
          `expected a whole number of calls between 1 and 100000, got ${show(o.burst)}`,
        );
      }
      buckets[operation] = { ratePerSecond, burst };
    }
    return buckets;
  }

  private faults(value: unknown): FaultsScenario {
    const d = SCENARIO_DEFAULTS.faults;
    if (value === undefined) return { ...d };
    const o = this.object('faults', value, [
      'throttleRate',
      'serverErrorRate',
      'throttle',
      'consistencyDelayMs',
      'seed',
    ]);
    if (!o) return { ...d };
    const rate = { min: 0, max: 1, label: 'a share between 0 and 1' };
    const faults = {
      throttleRate: this.number('faults.throttleRate', o.throttleRate, d.throttleRate, rate),
      serverErrorRate: this.number('faults.serverErrorRate', o.serverErrorRate, d.serverErrorRate, rate),
      throttle: this.throttle(o.throttle),
      consistencyDelayMs: this.number(
        'faults.consistencyDelayMs',
        o.consistencyDelayMs,
        d.consistencyDelayMs,
        {
          min: 0,
          max: 60000,
          label: 'a number of milliseconds between 0 and 60000',
        },
      ),
      seed: this.number('faults.seed', o.seed, d.seed, {
        min: 0,
        max: 0xffffffff,
        label: 'an integer between 0 and 4294967295',
      }),
    };
    if (!Number.isInteger(faults.seed)) {
      this.problem('faults.seed', `expected an integer between 0 and 4294967295, got ${show(o.seed)}`);
    }
    if (faults.throttleRate + faults.serverErrorRate > 1) {
      this.problem('faults', 'throttleRate + serverErrorRate must not exceed 1');
    }
    return faults;
  }
}

function join(path: string, key: string): string {
  return path === '(top level)' ? key : `${path}.${key}`;
}
