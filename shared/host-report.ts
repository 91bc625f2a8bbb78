/**
 * Parses what the probe and push scripts print (the host line protocol, described once in
 * shared/documents/README.md; its words and its writing side are in host-protocol.ts) into typed
 * observations. Pure: anything malformed becomes a `problem`, never an exception, so one host's
 * garbage cannot stop a run.
 */
import { type ComponentName, isComponentName } from './catalog.ts';
import {
  END_MARKER,
  HEADERS,
  MISSING_PARAMETERS,
  PUSH_RESULTS,
  type PushResult,
  SKIP_REASONS,
  type SkipReason,
  TOO_LATE_REASON,
} from './host-protocol.ts';
import { printable } from './printable.ts';

/** The token as seen on the host: only header.payload ever leaves it. */
export type TokenSighting =
  | { readonly kind: 'jwt'; readonly headerAndPayload: string }
  | { readonly kind: 'none' }
  | { readonly kind: 'unreadable' };

export interface ComponentSighting {
  readonly name: ComponentName;
  readonly token: TokenSighting;
  /** Age of a waiting registration_token.txt, or null when there is none. */
  readonly registrationFileAgeSeconds: number | null;
  readonly running: boolean | 'unknown';
  /** Windows: the push restarted the service to make it read the file. */
  readonly restarted?: boolean;
  /**
   * Windows: seconds since a push first delivered the registration file that still waits (the probe's
   * `delivered=` field, from a marker the push leaves in the state directory). Present only while the
   * file waits and a push has already delivered it, and so restarted the service once.
   */
  readonly firstDeliveredAgeSeconds?: number;
}

export type SealingKey =
  | { readonly kind: 'ready'; readonly spkiDerBase64: string }
  | { readonly kind: 'error'; readonly reason: string };

export interface ProbeReport {
  readonly hostEpochSeconds: number;
  /**
   * The host can unseal a token sealed to its key (`unseal=1`): openssl is installed on Linux, .NET
   * has RSA-OAEP-SHA256 on Windows. A host that cannot is never sent a token.
   */
  readonly canUnseal: boolean;
  readonly sealingKey: SealingKey | null;
  readonly components: readonly ComponentSighting[];
}

function skipReason(value: string | undefined): SkipReason | undefined {
  return SKIP_REASONS.find((r) => r === value);
}

export type PushOutcome =
  | { readonly kind: 'written'; readonly after: ComponentSighting }
  | { readonly kind: 'skipped'; readonly reason: SkipReason; readonly after: ComponentSighting }
  | { readonly kind: 'failed'; readonly name: ComponentName; readonly reason: string };

/** The component a push outcome is about. */
export function outcomeName(outcome: PushOutcome): ComponentName {
  return outcome.kind === 'failed' ? outcome.name : outcome.after.name;
}

export interface PushReport {
  readonly delivered: boolean;
  /**
   * The host refused the push because its clock was past NotAfter: nothing was written. Every component
   * the push carried for this host is then failed (see `pushOutcomesFor`).
   */
  readonly tooLate?: boolean;
  readonly waitedSeconds: number | null;
  readonly outcomes: readonly PushOutcome[];
}

export type Parsed<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly problem: string };

/**
 * What a host line `host error=missing-parameters` means: the agent neither set the SSM_ variables nor
 * spliced the values into the script (agents before 3.3.2746.0 splice them, and the scripts use that).
 */
export const MISSING_PARAMETERS_PROBLEM =
  'the SSM Agent ran the script without its parameters (no SSM_ variables, nothing spliced into the script); update the SSM Agent (AWS-UpdateSSMAgent)';

function pushResult(value: string | undefined): PushResult | undefined {
  return PUSH_RESULTS.find((r) => r === value);
}

const TOKEN_SEGMENTS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
const SPKI = /^[A-Za-z0-9+/]+={0,2}$/;
const REASON = /^[a-z0-9-]{1,60}$/;
const WHOLE_SECONDS = /^\d{1,12}$/;

/** `key=value` fields after the leading words; values never hold spaces. */
function fields(words: readonly string[]): Map<string, string> | string {
  const map = new Map<string, string>();
  for (const word of words) {
    const eq = word.indexOf('=');
    if (eq <= 0) return `expected key=value, got "${clip(word)}"`;
    map.set(word.slice(0, eq), word.slice(eq + 1));
  }
  return map;
}

/** Host text quoted in a problem: at most 40 characters, and nothing a terminal would act on. */
function clip(text: string): string {
  return printable(text.length > 40 ? `${text.slice(0, 40)}…` : text);
}

/**
 * Remembers which lines of a report were seen: a host answers each once, so a second `host`, `key` or
 * `comp NAME` line (or the same `host` field twice) means the output is not what the script printed.
 */
class SeenOnce {
  private readonly seen = new Set<string>();

  /** The problem when `what` was seen before; records it otherwise. */
  again(what: string): string | undefined {
    if (this.seen.has(what)) return `duplicate ${what}`;
    this.seen.add(what);
    return undefined;
  }
}

/** The lines between the version header and `end`; stderr after `end` is ignored. */
function bodyLines(output: string, header: string): string[] | string {
  const lines = output.split(/\r?\n/).map((l) => l.trimEnd());
  const start = lines.indexOf(header);
  if (start < 0) return `output does not start with "${header}"`;
  const end = lines.indexOf(END_MARKER, start + 1);
  if (end < 0) return `output is incomplete (no "${END_MARKER}" line)`;
  return lines.slice(start + 1, end).filter((l) => l.length > 0);
}

function parseSighting(name: string, f: Map<string, string>): ComponentSighting | string {
  if (!isComponentName(name)) return `unknown component "${clip(name)}"`;
  const token = f.get('token');
  let sighting: TokenSighting;
  if (token === 'none') sighting = { kind: 'none' };
  else if (token === 'unreadable') sighting = { kind: 'unreadable' };
  else if (token !== undefined && TOKEN_SEGMENTS.test(token))
    sighting = { kind: 'jwt', headerAndPayload: token };
  else return `component ${name}: bad token field`;

  const reg = f.get('reg');
  let age: number | null;
  if (reg === 'absent') age = null;
  else if (reg !== undefined && /^-?\d{1,12}$/.test(reg)) age = Math.max(0, Number(reg));
  else return `component ${name}: bad reg field`;

  const run = f.get('running');
  if (run !== 'true' && run !== 'false' && run !== 'unknown') return `component ${name}: bad running field`;
  const restarted = f.get('restarted');
  const delivered = f.get('delivered');
  if (delivered !== undefined && !WHOLE_SECONDS.test(delivered))
    return `component ${name}: bad delivered field`;
  return {
    name,
    token: sighting,
    registrationFileAgeSeconds: age,
    running: run === 'unknown' ? 'unknown' : run === 'true',
    ...(restarted === undefined ? {} : { restarted: restarted === 'true' }),
    ...(delivered === undefined || age === null ? {} : { firstDeliveredAgeSeconds: Number(delivered) }),
  };
}

export function parseProbeOutput(output: string): Parsed<ProbeReport> {
  const lines = bodyLines(output, HEADERS.probe);
  if (typeof lines === 'string') return { ok: false, problem: lines };
  let hostEpochSeconds: number | undefined;
  let canUnseal = false;
  let sealingKey: SealingKey | null = null;
  const components: ComponentSighting[] = [];
  const once = new SeenOnce();
  for (const line of lines) {
    const [kind, ...rest] = line.split(' ');
    if (kind === 'comp') {
      const [name = '', ...more] = rest;
      const f = fields(more);
      if (typeof f === 'string') return { ok: false, problem: f };
      const sighting = parseSighting(name, f);
      if (typeof sighting === 'string') return { ok: false, problem: sighting };
      const duplicate = once.again(`line for component ${name}`);
      if (duplicate) return { ok: false, problem: duplicate };
      components.push(sighting);
      continue;
    }
    const f = fields(rest);
    if (typeof f === 'string') return { ok: false, problem: f };
    const duplicate = kind === 'host' || kind === 'key' ? once.again(`${kind} line`) : undefined;
    if (duplicate) return { ok: false, problem: duplicate };
    if (kind === 'host') {
      if (f.get('error') === MISSING_PARAMETERS) return { ok: false, problem: MISSING_PARAMETERS_PROBLEM };
      const now = Number(f.get('now'));
      if (!Number.isSafeInteger(now)) return { ok: false, problem: 'bad host clock field' };
      hostEpochSeconds = now;
      canUnseal = f.get('unseal') === '1';
    } else if (kind === 'key') {
      const spki = f.get('spki');
      const error = f.get('error');
      if (spki !== undefined && spki.length >= 300 && SPKI.test(spki)) {
        sealingKey = { kind: 'ready', spkiDerBase64: spki };
      } else if (error !== undefined && REASON.test(error)) sealingKey = { kind: 'error', reason: error };
      else return { ok: false, problem: 'bad key line' };
    } else {
      return { ok: false, problem: `unexpected line "${clip(line)}"` };
    }
  }
  if (hostEpochSeconds === undefined) return { ok: false, problem: 'no host line' };
  return { ok: true, value: { hostEpochSeconds, canUnseal, sealingKey, components } };
}

/**
 * Parses the push's output. `delivered`: the components the push carried for this host; when the host
 * refused the push as too late (`host result=too-late`), each of them becomes a failed outcome, and a
 * line about any other component is a problem (when the list is empty, any catalog component is read).
 */
export function parsePushOutput(
  output: string,
  delivered: readonly ComponentName[] = [],
): Parsed<PushReport> {
  const lines = bodyLines(output, HEADERS.push);
  if (typeof lines === 'string') return { ok: false, problem: lines };
  let wasDelivered = true;
  let tooLate = false;
  let waitedSeconds: number | null = null;
  const outcomes: PushOutcome[] = [];
  const once = new SeenOnce();
  for (const line of lines) {
    const [kind, ...rest] = line.split(' ');
    if (kind === 'host') {
      const f = fields(rest);
      if (typeof f === 'string') return { ok: false, problem: f };
      if (f.get('error') === MISSING_PARAMETERS) return { ok: false, problem: MISSING_PARAMETERS_PROBLEM };
      for (const field of ['result', 'waited']) {
        const duplicate = f.has(field) ? once.again(`host ${field}`) : undefined;
        if (duplicate) return { ok: false, problem: duplicate };
      }
      const result = pushResult(f.get('result'));
      if (result === 'no-delivery') wasDelivered = false;
      if (result === 'too-late') tooLate = true;
      const waited = f.get('waited');
      if (waited === undefined) continue;
      if (!WHOLE_SECONDS.test(waited)) return { ok: false, problem: 'bad waited field' };
      waitedSeconds = Number(waited);
      continue;
    }
    if (kind !== 'comp') return { ok: false, problem: `unexpected line "${clip(line)}"` };
    const outcome = parsePushLine(rest, delivered);
    if (typeof outcome === 'string') return { ok: false, problem: outcome };
    const duplicate = once.again(`line for component ${outcomeName(outcome)}`);
    if (duplicate) return { ok: false, problem: duplicate };
    outcomes.push(outcome);
  }
  if (tooLate) {
    for (const name of delivered) outcomes.push({ kind: 'failed', name, reason: TOO_LATE_REASON });
    return { ok: true, value: { delivered: false, tooLate, waitedSeconds, outcomes } };
  }
  return { ok: true, value: { delivered: wasDelivered, waitedSeconds, outcomes } };
}

/** One `comp NAME push=…` line of a push (the words after `comp`), or its problem. */
function parsePushLine(words: readonly string[], delivered: readonly ComponentName[]): PushOutcome | string {
  const [name = '', ...more] = words;
  const f = fields(more);
  if (typeof f === 'string') return f;
  if (!isComponentName(name)) return `unknown component "${clip(name)}"`;
  if (delivered.length > 0 && !delivered.includes(name))
    return `a line for component ${name}, which the push did not carry`;
  const push = f.get('push');
  if (push === 'failed') {
    const reason = f.get('reason') ?? '';
    if (!REASON.test(reason)) return `component ${name}: bad reason`;
    return { kind: 'failed', name, reason };
  }
  if (push !== 'written' && push !== 'skipped') return `component ${name}: bad push field`;
  const after = parseSighting(name, f);
  if (typeof after === 'string') return after;
  if (push === 'written') return { kind: 'written', after };
  const reason = skipReason(f.get('reason'));
  if (reason === undefined) return `component ${name}: bad skip reason`;
  return { kind: 'skipped', reason, after };
}
