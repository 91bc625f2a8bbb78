/**
 * Text from a host (its command output, what its agent says of itself) may hold control characters: an
 * escape sequence that reaches an operator's terminal through a report, a log or the ops CLI can move the
 * cursor, rewrite what was printed or set the window title. Every such text passes `printable` first.
 */

/**
 * C0 and C1 controls, DEL, and the invisible format characters that reorder or hide text (bidirectional
 * overrides and isolates, zero-width characters, the byte order mark).
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/gu;

/**
 * `text` with every control or invisible format character replaced by a visible `\u{…}` escape, so
 * nothing a host printed can act on a terminal, and what it printed can still be seen.
 *
 * @example printable('ok\u001b[2J') // 'ok\\u{1b}[2J'
 */
export function printable(text: string): string {
  return text.replace(UNPRINTABLE, (c) => `\\u{${(c.codePointAt(0) ?? 0).toString(16)}}`);
}
