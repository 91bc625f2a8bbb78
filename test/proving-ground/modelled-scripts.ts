/**
 * What a modelled host does when it runs the probe or the push (hostModel "modelled", see
 * modelled-fleet.ts for what is modelled and the shortcuts taken): the Linux scripts' work on the
 * model's components, answered in the host line protocol through its formatter.
 */
import { constants, createPrivateKey, generateKeyPair, privateDecrypt } from 'node:crypto';
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
import type { AwsTiming } from './aws-timing.ts';
import type { Owner } from './hosts/linux-host.ts';
import { LINUX_COMPONENTS, LINUX_INSTALL_ROOT, type LinuxComponentName } from './kasm/catalog.ts';
import type { ComponentPlayer, ModelComponent, ModelHost, PoolKey } from './modelled-components.ts';
import type { StepResult, StepRun } from './types.ts';

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

/** RSA-2048 key pairs shared by all modelled hosts (a simulation shortcut, see modelled-fleet.ts). */
export const KEY_POOL_SIZE = 16;
/** The scripts' KEY_TTL: a sealing key older than this is removed, and refused by the push. */
const KEY_TTL_SECONDS = 900;
const SECRET = /^[A-Za-z0-9+/=._-]+$/;
const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

const ok = (stdout: string, exitCode = 0): StepResult => ({ exitCode, stdout, stderr: '', timedOut: false });
/** SIGKILL: no clean-up ran, and the output stops where the step was (no end marker). */
const killed = (stdout = ''): StepResult => ({ exitCode: -1, stdout, stderr: '', timedOut: false });
const refused = (stderr: string): StepResult => ({ exitCode: 1, stdout: '', stderr, timedOut: false });

/** Resolves true after `ms`, or false as soon as `signal` aborts (the step is killed). */
function sleep(ms: number, signal?: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
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
}

export class ModelledScripts {
  private keyCounter = 0;

  constructor(
    private readonly player: ComponentPlayer,
    private readonly timing: AwsTiming,
    private readonly pool: readonly PoolKey[],
    private readonly owner: Owner,
  ) {}

  /** Runs a step on a running host: the probe or the push, told apart by the header they print. */
  async run(host: ModelHost, run: StepRun): Promise<StepResult> {
    if (run.action !== 'aws:runShellScript') {
      return refused(
        `${run.action} is not supported on simulated Linux host ${host.scenario.id}: pwsh is not installed.\n`,
      );
    }
    const role = roleOfScript(run.script);
    if (role === 'probe') return this.probe(host, run);
    if (role === 'push') return this.push(host, run);
    return refused('proving ground: a modelled host runs only the probe and push documents\n');
  }

  /** The component as the script reads it: `header.payload` of a JWT, `none` or `unreadable`. */
  sighting(host: ModelHost, c: ModelComponent, nowMs: number): ComponentSighting {
    this.player.advance(host, c, nowMs);
    let token: TokenSighting;
    if (c.token === undefined || c.token === '' || c.token === 'null' || c.token === '~')
      token = { kind: 'none' };
    else if (c.token.length <= 8000 && JWT_SHAPE.test(c.token))
      token = { kind: 'jwt', headerAndPayload: c.token.slice(0, c.token.lastIndexOf('.')) };
    else token = { kind: 'unreadable' };
    const age = c.file ? Math.floor(nowMs / 1000) - Math.floor(c.file.mtimeMs / 1000) : null;
    return { name: c.name, token, registrationFileAgeSeconds: age, running: c.running };
  }

  private removeStaleKeys(host: ModelHost, nowMs: number): void {
    for (const [runId, k] of host.keys)
      if (nowMs - k.madeMs > KEY_TTL_SECONDS * 1000) host.keys.delete(runId);
  }

  private async probe(host: ModelHost, run: StepRun): Promise<StepResult> {
    const env = scriptParameters(run);
    if (!env.SSM_InstallRoot || !env.SSM_RunId || !env.SSM_KeyPair || !env.SSM_GraceSeconds) {
      return ok(answer('probe', [missingParametersLine]), 1);
    }
    const cost = this.timing.ms('probeRun');
    if (cost > 0 && !(await sleep(cost, run.signal))) return killed();
    const now = Date.now();
    this.removeStaleKeys(host, now);
    const grace = Number(env.SSM_GraceSeconds);
    const installed = env.SSM_InstallRoot === LINUX_INSTALL_ROOT ? [...host.components.values()] : [];
    const components = installed.map((c) => this.sighting(host, c, now));
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
      const keygen = this.timing.ms('keygen');
      if (keygen > 0 && !(await sleep(keygen, run.signal))) return killed();
      const key = this.pool[(host.index + this.keyCounter++) % this.pool.length]!;
      host.keys.set(env.SSM_RunId, { key, madeMs: now });
      sealingKey = { kind: 'ready', spkiDerBase64: key.spki };
    }
    const report = { hostEpochSeconds: Math.floor(now / 1000), canUnseal, sealingKey, components };
    return ok(answer('probe', probeLines(report)));
  }

  private async push(host: ModelHost, run: StepRun): Promise<StepResult> {
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
    const cost = this.timing.ms('pushRun');
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
    this.removeStaleKeys(host, now);
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
      if (c) this.player.advance(host, c, now);
      if (!c) outcome = 'config-missing';
      else if (c.trap === 'dir' || c.trap === 'symlink') outcome = 'target-not-regular';
      else if (c.file) outcome = 'already-waiting';
      else if (c.savedMs > held.madeMs) outcome = 'config-changed';
      else if (c.readOnly) outcome = 'write-denied';
      else {
        c.file = {
          content: `${secret}\n`,
          mtimeMs: now,
          mode: 0o600,
          uid: this.owner.uid,
          gid: this.owner.gid,
        };
        outcome = 'written';
        delivered.push(c);
      }
      status.set(name, outcome);
    }

    // The wait: once a (host) second, are the delivered files still there?
    // WaitSeconds is in the run's (simulated) seconds; the script polls once a real second, which with
    // awsTiming is 1 / timeScale simulated seconds: timeScale polls per simulated second.
    const pollsPerSecond = this.timing.enabled ? this.timing.timeScale : 1;
    const polls = Number(env.SSM_WaitSeconds) * pollsPerSecond;
    const stepMs = 1000 / pollsPerSecond;
    let poll = 0;
    while (poll < polls) {
      const t = Date.now();
      let left = false;
      for (const c of delivered) {
        this.player.advance(host, c, t);
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
      if (c && s === 'written') outcomes.push({ kind: 'written', after: this.sighting(host, c, now) });
      else if (c && skip)
        outcomes.push({ kind: 'skipped', reason: skip, after: this.sighting(host, c, now) });
      else outcomes.push({ kind: 'failed', name, reason: s });
    }
    return ok(
      answer(
        'push',
        pushLines({ result: 'unsealed', waitedSeconds: Math.floor(poll / pollsPerSecond), outcomes }),
      ),
    );
  }
}

/** The shared pool of RSA-2048 key pairs (generated once per fleet: keygen costs 100-250 ms each). */
export async function keyPool(size: number): Promise<PoolKey[]> {
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
