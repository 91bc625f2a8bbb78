/**
 * Finds the registration token in anything a run left behind, in every form it could
 * plausibly take on the way out: as is, encoded (base64, base64url, hex, URL, JSON,
 * UTF-16), embedded in a longer string that was then base64- or hex-encoded, or cut
 * short (a distinctive prefix or suffix).
 *
 * Pure: no I/O, no test framework. A finding names the source, the form and the byte
 * offset, never the matched text, so a report of a leak does not leak the token again.
 */

export interface LeakSource {
  /** Where the text came from, e.g. `aws response #3 GetCommandInvocation` or a file path. */
  readonly where: string;
  readonly text: string | Buffer;
}

export type LeakForm =
  | 'raw'
  | 'base64'
  | 'base64url'
  | 'hex'
  | 'HEX'
  | 'url-encoded'
  | 'url-encoded (lower-case escapes)'
  | 'form-encoded'
  | 'json-escaped'
  | 'json-escaped (ASCII only)'
  | 'json-escaped twice'
  | 'utf-16le'
  | 'inside longer base64'
  | 'inside longer base64url'
  | 'prefix'
  | 'suffix';

export interface Leak {
  readonly where: string;
  readonly form: LeakForm;
  /** Byte offset (UTF-8 of a string source) of the first occurrence. */
  readonly offset: number;
  /** Occurrences of this form in this source, overlapping ones of other forms not counted. */
  readonly count: number;
}

interface Needle {
  readonly form: LeakForm;
  readonly bytes: Buffer;
}

/** Shorter searches than this would match unrelated text by chance. */
export const MIN_NEEDLE_LENGTH = 12;
/** The raw prefix and suffix searched for: long enough to be distinctive, short enough to catch a clipped token. */
export const PARTIAL_LENGTH = 24;

const b64url = (b64: string): string => b64.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');

/**
 * The base64 characters that encode the token's bytes whatever surrounds them, when the
 * token starts `alignment` (0, 1 or 2) bytes into a 3-byte group of a longer string: the
 * first group (shared with the bytes before, unless aligned) and the last, incomplete
 * group (shared with the bytes after) are trimmed.
 */
export function stableBase64(token: Buffer, alignment: 0 | 1 | 2): string {
  const padded = Buffer.concat([Buffer.alloc(alignment), token]);
  const fullGroups = Math.floor(padded.length / 3);
  return padded.toString('base64').slice(alignment === 0 ? 0 : 4, 4 * fullGroups);
}

function asciiOnlyJson(text: string): string {
  return JSON.stringify(text)
    .slice(1, -1)
    .replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** Every form searched for, each distinct (a form identical to an earlier one is dropped). */
export function leakNeedles(token: string): readonly Needle[] {
  if (token.length < MIN_NEEDLE_LENGTH) {
    throw new Error(
      `a token of ${token.length} characters is too short to search for (at least ${MIN_NEEDLE_LENGTH})`,
    );
  }
  const bytes = Buffer.from(token, 'utf8');
  const base64 = bytes.toString('base64');
  const encoded = encodeURIComponent(token);
  const json = JSON.stringify(token).slice(1, -1);
  const candidates: [LeakForm, string | Buffer][] = [
    ['raw', token],
    ['base64', base64],
    ['base64url', b64url(base64)],
    ['hex', bytes.toString('hex')],
    ['HEX', bytes.toString('hex').toUpperCase()],
    ['url-encoded', encoded],
    ['url-encoded (lower-case escapes)', encoded.replace(/%[0-9A-F]{2}/g, (e) => e.toLowerCase())],
    ['form-encoded', new URLSearchParams([['k', token]]).toString().slice(2)],
    ['json-escaped', json],
    ['json-escaped (ASCII only)', asciiOnlyJson(token)],
    ['json-escaped twice', JSON.stringify(json).slice(1, -1)],
    ['utf-16le', Buffer.from(token, 'utf16le')],
  ];
  for (const alignment of [0, 1, 2] as const) {
    const stable = stableBase64(bytes, alignment);
    candidates.push(['inside longer base64', stable], ['inside longer base64url', b64url(stable)]);
  }
  const chars = [...token];
  if (chars.length > PARTIAL_LENGTH) {
    candidates.push(
      ['prefix', chars.slice(0, PARTIAL_LENGTH).join('')],
      ['suffix', chars.slice(-PARTIAL_LENGTH).join('')],
    );
  }
  const needles: Needle[] = [];
  for (const [form, value] of candidates) {
    const needle = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
    if (needle.length < MIN_NEEDLE_LENGTH) continue;
    if (needles.some((n) => n.bytes.equals(needle))) continue;
    needles.push({ form, bytes: needle });
  }
  return needles;
}

interface Match {
  readonly form: LeakForm;
  readonly start: number;
  readonly end: number;
}

function matchesIn(haystack: Buffer, needles: readonly Needle[]): Match[] {
  const found: Match[] = [];
  for (const { form, bytes } of needles) {
    for (let at = haystack.indexOf(bytes); at >= 0; at = haystack.indexOf(bytes, at + 1)) {
      found.push({ form, start: at, end: at + bytes.length });
    }
  }
  // One occurrence is reported once, in its fullest form: the prefix of a raw token, or
  // the aligned base64 inside an exact base64 of the token, are the same occurrence.
  return found.filter(
    (m) =>
      !found.some(
        (o) => o !== m && o.start <= m.start && o.end >= m.end && o.end - o.start > m.end - m.start,
      ),
  );
}

/** Every source and form in which the token appears; empty when it appears nowhere. */
export function scanForLeaks(token: string, sources: Iterable<LeakSource>): Leak[] {
  const needles = leakNeedles(token);
  const leaks: Leak[] = [];
  for (const { where, text } of sources) {
    const haystack = typeof text === 'string' ? Buffer.from(text, 'utf8') : text;
    const byForm = new Map<LeakForm, { offset: number; count: number }>();
    for (const m of matchesIn(haystack, needles)) {
      const seen = byForm.get(m.form);
      if (seen) {
        seen.count += 1;
        seen.offset = Math.min(seen.offset, m.start);
      } else byForm.set(m.form, { offset: m.start, count: 1 });
    }
    for (const [form, { offset, count }] of byForm) leaks.push({ where, form, offset, count });
  }
  return leaks;
}

/** One line per leak, safe to print: names places and forms, never the token. */
export function describeLeaks(leaks: readonly Leak[]): string {
  return leaks
    .map((l) => `${l.where}: ${l.form} at byte ${l.offset}${l.count > 1 ? ` (${l.count} times)` : ''}`)
    .join('\n');
}
