/**
 * The host line protocol's words and its writing side: the headers and the end marker, the codes a
 * host answers with, the push's `Deliveries` encoding, and a formatter that prints a report the way
 * the scripts do. The scripts themselves print it in bash and PowerShell; everything in TypeScript that
 * speaks for a host (the proving ground's host models, the function's test doubles) prints it through
 * here, and `host-report.ts` reads it, so a round trip through both keeps every side in step.
 * The protocol is described once, in shared/documents/README.md.
 */
import type { ComponentName } from './catalog.ts';
import type { DocumentRole } from './documents/ssm-documents.ts';
import type { ComponentSighting, ProbeReport, PushOutcome, TokenSighting } from './host-report.ts';

/** The first line of each document's output: the document and the protocol version. */
export const HEADERS: Readonly<Record<DocumentRole, string>> = {
  probe: 'ktr-probe v1',
  push: 'ktr-push v1',
};

/** The last line of a complete answer; what follows (SSM appends standard error there) is ignored. */
export const END_MARKER = 'end';

/**
 * The role of a document script, by the header it prints first (`echo 'ktr-probe v1'` in bash,
 * `Write-KtrLine 'ktr-probe v1'` in PowerShell); undefined for any other script.
 */
export function roleOfScript(script: string): DocumentRole | undefined {
  return (Object.keys(HEADERS) as DocumentRole[]).find((role) => script.includes(`'${HEADERS[role]}'`));
}

/** `host error=missing-parameters`: the agent passed the parameters neither way (exit code 1). */
export const MISSING_PARAMETERS = 'missing-parameters';

/**
 * Why a push wrote nothing for a component and stood back (`push=skipped`): another run's
 * registration_token.txt already waits there, or the component saved a new config (a new token) after
 * this run's probe looked. Overlapping runs deliver at most once this way.
 */
export const SKIP_REASONS = ['already-waiting', 'config-changed'] as const;
export type SkipReason = (typeof SKIP_REASONS)[number];

/** Every `host result=` the push prints; the parser ignores any other. */
export const PUSH_RESULTS = ['unsealed', 'too-late', 'no-delivery'] as const;
export type PushResult = (typeof PUSH_RESULTS)[number];

/** Reason of every component of a push the host refused because it arrived past its NotAfter time. */
export const TOO_LATE_REASON = 'too-late';

// ---------------------------------------------------------------- Deliveries

/** One host's entry of the push's `Deliveries` parameter. */
export interface DeliveryEntry {
  readonly instanceId: string;
  readonly components: readonly ComponentName[];
  /** Base64 RSA-OAEP ciphertext of the registration token, sealed to this host's key. */
  readonly sealed: string;
}

/**
 * The push's Deliveries value: `instanceId:component+component:ciphertext` per host, space-separated
 * (the push document's allowedPattern, PARAMETER_PATTERNS.deliveries).
 */
export function encodeDeliveries(entries: readonly DeliveryEntry[]): string {
  return entries.map((e) => `${e.instanceId}:${e.components.join('+')}:${e.sealed}`).join(' ');
}

/**
 * This instance's entry, read as the scripts read it: of several, the last one counts. The component
 * names are left as words: a host reports on each name it was given, known to it or not.
 */
export function deliveryFor(
  value: string,
  instanceId: string,
): { readonly components: readonly string[]; readonly sealed: string } | undefined {
  let found: { components: string[]; sealed: string } | undefined;
  for (const entry of value.split(/\s+/)) {
    if (!entry.startsWith(`${instanceId}:`)) continue;
    const [names = '', sealed = ''] = entry.slice(instanceId.length + 1).split(':');
    found = { components: names.split('+'), sealed };
  }
  return found;
}

// ---------------------------------------------------------------- formatter

function tokenWord(token: TokenSighting): string {
  return token.kind === 'jwt' ? token.headerAndPayload : token.kind;
}

/** `token=… reg=… running=… [restarted=…] [delivered=…]`: a component as the probe's `comp` line shows it. */
export function sightingFields(s: ComponentSighting): string {
  const words = [
    `token=${tokenWord(s.token)}`,
    `reg=${s.registrationFileAgeSeconds ?? 'absent'}`,
    `running=${s.running}`,
  ];
  if (s.restarted !== undefined) words.push(`restarted=${s.restarted}`);
  if (s.firstDeliveredAgeSeconds !== undefined) words.push(`delivered=${s.firstDeliveredAgeSeconds}`);
  return words.join(' ');
}

/** The whole answer: header, lines, end (a step killed half-way prints no end: see `unfinished`). */
export function answer(role: DocumentRole, lines: readonly string[]): string {
  return `${[HEADERS[role], ...lines, END_MARKER].join('\n')}\n`;
}

/** What a step killed half-way had printed: no end marker, so the parser calls it incomplete. */
export function unfinished(role: DocumentRole, lines: readonly string[]): string {
  return `${[HEADERS[role], ...lines].join('\n')}\n`;
}

export const missingParametersLine = `host error=${MISSING_PARAMETERS}`;

/** The probe's lines for a report, in the scripts' order: host, key, components. */
export function probeLines(report: ProbeReport): string[] {
  const lines = [`host unseal=${report.canUnseal ? 1 : 0} now=${report.hostEpochSeconds}`];
  const key = report.sealingKey;
  if (key) lines.push(key.kind === 'ready' ? `key spki=${key.spkiDerBase64}` : `key error=${key.reason}`);
  for (const c of report.components) lines.push(`comp ${c.name} ${sightingFields(c)}`);
  return lines;
}

/** What a push answered, as the scripts can answer it. */
export type PushAnswer =
  | { readonly result: 'too-late' | 'no-delivery' }
  /** No usable token could be unsealed: one failed line per component the entry names. */
  | { readonly result: 'not-unsealed'; readonly components: readonly string[]; readonly reason: string }
  | {
      readonly result: 'unsealed';
      readonly waitedSeconds: number;
      readonly outcomes: readonly PushOutcome[];
    };

/** One `comp NAME push=…` line. */
export function pushOutcomeLine(outcome: PushOutcome): string {
  if (outcome.kind === 'failed') return `comp ${outcome.name} push=failed reason=${outcome.reason}`;
  const { after } = outcome;
  const skip = outcome.kind === 'skipped' ? ` reason=${outcome.reason}` : '';
  return `comp ${after.name} push=${outcome.kind}${skip} ${sightingFields(after)}`;
}

/** The push's lines, in the scripts' order: result, waited, components. */
export function pushLines(push: PushAnswer): string[] {
  switch (push.result) {
    case 'too-late':
    case 'no-delivery':
      return [`host result=${push.result}`];
    case 'not-unsealed':
      return push.components.map((name) => `comp ${name} push=failed reason=${push.reason}`);
    case 'unsealed':
      return [
        'host result=unsealed',
        `host waited=${push.waitedSeconds}`,
        ...push.outcomes.map(pushOutcomeLine),
      ];
  }
}
