/**
 * README.md's two settings tables (cdk.json fields, and the function's environment
 * variables), written from the declarations in shared/settings.ts. `npm run docs:settings`
 * rewrites them in README.md; test/infra/settings-docs.test.ts fails when they differ.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { accepted } from '../shared/setting-rules.ts';
import { SETTING_LIST, type Setting } from '../shared/settings.ts';

export const README = join(import.meta.dirname, '..', 'README.md');

function defaultOf(setting: Setting): string {
  if (setting.required) return 'required';
  if (setting.defaultText) return setting.defaultText;
  return setting.default === undefined ? 'none' : `\`${String(setting.default)}\``;
}

/** A Markdown table with its columns padded, as the README's other tables are. */
function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((cell, i) => Math.max(cell.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    `| ${cells.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join(' | ')} |`;
  return [line(header), line(widths.map((width) => '-'.repeat(width))), ...rows.map(line)].join('\n');
}

export const SETTINGS_TABLES = {
  'cdk.json': () =>
    table(
      ['setting', 'default', 'accepts', 'meaning'],
      SETTING_LIST.filter((s) => s.context).map((s) => [
        `\`${s.context}\``,
        defaultOf(s),
        accepted(s.rule),
        s.meaning,
      ]),
    ),
  environment: () =>
    table(
      ['variable', 'from cdk.json', 'default', 'accepts', 'meaning'],
      SETTING_LIST.filter((s) => s.variable).map((s) => [
        `\`${s.variable}\``,
        s.context ? `\`${s.context}\`` : '',
        defaultOf(s),
        accepted(s.rule),
        s.meaning,
      ]),
    ),
} as const;

/** The README with each table between `<!-- settings: NAME -->` and `<!-- /settings -->` rewritten. */
export function withSettingsTables(readme: string): string {
  let text = readme;
  for (const [name, render] of Object.entries(SETTINGS_TABLES)) {
    const start = `<!-- settings: ${name} -->\n`;
    const from = text.indexOf(start);
    const to = text.indexOf('<!-- /settings -->', from);
    if (from < 0 || to < 0)
      throw new Error(`README.md has no "${start.trim()}" … "<!-- /settings -->" block`);
    text = `${text.slice(0, from + start.length)}${render()}\n${text.slice(to)}`;
  }
  return text;
}

if (process.argv[1] === import.meta.filename) {
  writeFileSync(README, withSettingsTables(readFileSync(README, 'utf8')));
}
