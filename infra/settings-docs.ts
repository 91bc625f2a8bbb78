/**
 * The parts of docs/ written from the code, so they cannot drift: the two settings tables
 * (cdk.json fields, the function's environment variables; shared/settings.ts) in
 * docs/deploying.md, and the metrics table (shared/run-metrics.ts) and the alarm runbook
 * (infra/alarm-runbook.ts) in docs/operating.md. `npm run docs:settings` rewrites each block
 * between `<!-- generated: NAME -->` and `<!-- /generated -->`; test/infra/settings-docs.test.ts
 * fails when a file differs from what this would write.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { RUN_METRICS } from '../shared/run-metrics.ts';
import { accepted } from '../shared/setting-rules.ts';
import { SETTING_LIST, type Setting } from '../shared/settings.ts';
import { alarmRunbookMarkdown } from './alarm-runbook.ts';

const DOCS = join(import.meta.dirname, '..', 'docs');
export const DEPLOYING = join(DOCS, 'deploying.md');
export const OPERATING = join(DOCS, 'operating.md');

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

export const GENERATED_BLOCKS = {
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
  metrics: () =>
    table(
      ['metric', 'what it counts, per run'],
      Object.entries(RUN_METRICS).map(([name, meaning]) => [`\`${name}\``, meaning]),
    ),
  alarms: () => alarmRunbookMarkdown('####'),
} as const;

/** Which file holds which blocks. */
export const GENERATED_FILES: Readonly<Record<string, readonly (keyof typeof GENERATED_BLOCKS)[]>> = {
  [DEPLOYING]: ['cdk.json', 'environment'],
  [OPERATING]: ['metrics', 'alarms'],
};

/** `text` with each named block between `<!-- generated: NAME -->` and `<!-- /generated -->` rewritten. */
export function withGeneratedBlocks(text: string, names: readonly (keyof typeof GENERATED_BLOCKS)[]): string {
  let result = text;
  for (const name of names) {
    const start = `<!-- generated: ${name} -->\n`;
    const from = result.indexOf(start);
    const to = result.indexOf('<!-- /generated -->', from);
    if (from < 0 || to < 0) throw new Error(`no "${start.trim()}" … "<!-- /generated -->" block`);
    result = `${result.slice(0, from + start.length)}${GENERATED_BLOCKS[name]()}\n${result.slice(to)}`;
  }
  return result;
}

if (process.argv[1] === import.meta.filename) {
  for (const [file, names] of Object.entries(GENERATED_FILES)) {
    writeFileSync(file, withGeneratedBlocks(readFileSync(file, 'utf8'), names));
  }
}
