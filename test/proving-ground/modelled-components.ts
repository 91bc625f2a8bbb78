/**
 * The modelled fleet's hosts and components (hostModel "modelled", see modelled-fleet.ts): what each
 * host holds, and the Kasm component rules played lazily. A component's heartbeats (every
 * `kasm.heartbeatSeconds` since it started) are played forward whenever anyone looks at it; a refresh
 * or registration issues a real RS256 JWT with the Kasm Admin API's own signing code, in-process.
 */
import { type KeyObject, randomBytes } from 'node:crypto';
import type { Instance } from './instance-lifecycle.ts';
import type { KasmAdminApi } from './kasm/admin-api.ts';
import type { LinuxComponentName } from './kasm/catalog.ts';
import { refreshMarginSeconds } from './kasm/component-rules.ts';
import type { TokenState, Trap } from './scenario.ts';
import type { SimulatedNode } from './types.ts';

/** An RSA-2048 key pair of the shared pool (a simulation shortcut: modelled-fleet.ts). */
export interface PoolKey {
  readonly privateKey: KeyObject;
  readonly spki: string;
}

export interface ModelComponent {
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

export interface ModelHost extends Instance {
  readonly components: Map<LinuxComponentName, ModelComponent>;
  /** Sealing keys in the host's /run: RunId -> pool key and when it was made. */
  readonly keys: Map<string, { key: PoolKey; madeMs: number }>;
  /** Components play heartbeats only while the host runs and the fleet is started. */
  active: boolean;
  /** What SSM shows of the host, rebuilt when it changes (listing 10,000 hosts stays cheap). */
  node: SimulatedNode;
}

/** Plays the Kasm component rules (kasm/component-rules.ts) for modelled components. */
export class ComponentPlayer {
  private readonly hbMs: number;
  private readonly margin: number;

  constructor(
    private readonly kasm: KasmAdminApi,
    private readonly heartbeatSeconds: number,
  ) {
    this.hbMs = heartbeatSeconds * 1000;
    this.margin = refreshMarginSeconds(heartbeatSeconds, kasm.tokenLifetimeSeconds);
  }

  /** A component's first token, in the state the scenario gives it. */
  initialToken(name: LinuxComponentName, state: TokenState, id: string): string | undefined {
    const { kasm } = this;
    const lifetime = kasm.tokenLifetimeSeconds;
    const grace = kasm.gracePeriodSeconds;
    const now = Date.now() / 1000;
    switch (state) {
      case 'valid':
        return kasm.issueToken(name, id, Math.floor(now + lifetime));
      case 'expiring':
        return kasm.issueToken(name, id, Math.ceil(now + this.heartbeatSeconds));
      case 'in-grace':
        return kasm.issueToken(name, id, Math.floor(now - grace / 2));
      case 'expired':
        return kasm.issueToken(name, id, Math.floor(now - (grace + lifetime)));
      case 'missing':
        return undefined;
      case 'garbage':
        return randomBytes(36).toString('base64url');
    }
  }

  private issue(c: ModelComponent, atMs: number): void {
    c.token = this.kasm.issueToken(
      c.name,
      c.id,
      Math.floor(atMs / 1000 + this.kasm.tokenLifetimeSeconds),
      atMs,
    );
    c.exp = expOf(c.token);
    c.savedMs = atMs;
  }

  /** Plays the component's heartbeats up to `nowMs` (kasm/component-rules.ts, `beat`, step by step). */
  advance(host: ModelHost, c: ModelComponent, nowMs = Date.now()): void {
    if (!host.active) return;
    const { hbMs, margin, kasm } = this;
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
      if (
        check.signatureValid &&
        check.exp !== undefined &&
        next / 1000 < check.exp + kasm.gracePeriodSeconds
      ) {
        this.issue(c, next); // refresh_token
        continue;
      }
      // Refresh refused: register with registration_token.txt when it is there.
      const file = c.file;
      if (file && file.content.replace(/[\r\n]+$/, '').trim() === kasm.registrationToken()) {
        this.issue(c, next);
        if (!c.readOnly) c.file = undefined;
        continue;
      }
      // Refused again on every later beat until something changes (a file, the API, the process).
      c.lastBeat = lastAtOrBefore(nowMs);
      return;
    }
  }

  /** The host starts or stops playing heartbeats; a start counts beats from now. */
  activate(host: ModelHost, active: boolean): void {
    const now = Date.now();
    for (const c of host.components.values()) {
      this.advance(host, c, now);
      if (active && !host.active) c.lastBeat = now;
    }
    host.active = active;
  }
}

/** `exp` of a JWT's payload, without checking its signature (as a component decodes its own token). */
export function expOf(token: string | undefined): number | undefined {
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
