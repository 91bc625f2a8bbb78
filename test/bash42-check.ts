/**
 * A static check that the Linux host scripts use nothing newer than bash 4.2 (Amazon Linux 2 and
 * RHEL/CentOS 7 ship it). No bash 4.2 can be installed on this machine (Debian 12 has 5.2
 * only and building one needs the internet), so the constructs that fail or mean something else there
 * are found by pattern, line by line, comments and single-quoted text included (the writer that the
 * push runs as the directory owner is a single-quoted script).
 *
 *   npx tsx test/bash42-check.ts FILE...   prints FILE:LINE: problem, exits 1 on any finding
 *
 * Arrays that are never empty by construction (the catalog's COMPONENTS) may be expanded plainly;
 * every other `${name[@]}` must use the 4.2-safe form `${name[@]+"${name[@]}"}`: before bash 4.4,
 * expanding an empty array under `set -u` is a fatal "unbound variable" error.
 */
import { readFileSync } from 'node:fs';

/** Arrays the scripts define non-empty and never shrink. */
export const NON_EMPTY_ARRAYS: readonly string[] = ['COMPONENTS'];

interface Rule {
  readonly pattern: RegExp;
  readonly problem: string;
}

const RULES: readonly Rule[] = [
  {
    pattern: /\b(?:declare|typeset|local)\s+(?:-[a-zA-Z]*n[a-zA-Z]*)\b/,
    problem: 'namerefs (declare -n) need bash 4.3',
  },
  {
    pattern: /\$\{[#!]?[A-Za-z_][A-Za-z0-9_]*(?:\[[^\]]*\])?@[QEPAaKkUuL]\}/,
    problem: '${var@op} transformations need bash 4.4',
  },
  { pattern: /\b(?:mapfile|readarray)\b[^\n;|&]*\s-d\b/, problem: 'mapfile -d needs bash 4.4' },
  {
    pattern: /\$\{[A-Za-z_][A-Za-z0-9_]*\[\s*-\s*[0-9$]/,
    problem: 'negative array subscripts need bash 4.3',
  },
  {
    pattern: /\b[A-Za-z_][A-Za-z0-9_]*\[\s*-[0-9]+\s*\]=/,
    problem: 'negative array subscripts need bash 4.3',
  },
  { pattern: /\bwait\s+(?:-[a-z]*n|-f|-p)\b/, problem: 'wait -n / -f / -p need bash 4.3 or later' },
  {
    pattern: /\$\{?(?:EPOCHSECONDS|EPOCHREALTIME|SRANDOM|BASH_ARGV0)\b/,
    problem: 'this variable needs bash 5',
  },
  { pattern: /\blocal\s+-(?:\s|$)/, problem: '"local -" needs bash 4.4' },
  {
    pattern: /\binherit_errexit\b|\bassoc_expand_once\b|\blocalvar_inherit\b/,
    problem: 'this shopt option needs bash 4.4 or later',
  },
];

/** Every `${name[@]}` or `${name[*]}` not in the form `${name[@]+"${name[@]}"}` (or its `[*]` twin). */
function unsafeArrayExpansions(line: string): string[] {
  const names: string[] = [];
  // Blank out the safe form first, then anything left is a plain expansion.
  const rest = line.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\[([@*])\]\+"?\$\{\1\[\2\]\}"?\}/g, '');
  for (const match of rest.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)\[[@*]\]\}/g)) {
    const name = match[1] ?? '';
    if (!NON_EMPTY_ARRAYS.includes(name)) names.push(name);
  }
  return names;
}

/** Problems in one script, each `LINE: problem`. */
export function bash42Problems(text: string): string[] {
  const problems: string[] = [];
  text.split('\n').forEach((line, index) => {
    const at = index + 1;
    for (const rule of RULES) if (rule.pattern.test(line)) problems.push(`${at}: ${rule.problem}`);
    for (const name of unsafeArrayExpansions(line)) {
      problems.push(
        `${at}: "\${${name}[@]}" fails under set -u before bash 4.4 when the array is empty; write \${${name}[@]+"\${${name}[@]}"}`,
      );
    }
  });
  return problems;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  let failed = false;
  for (const file of process.argv.slice(2)) {
    for (const problem of bash42Problems(readFileSync(file, 'utf8'))) {
      console.log(`${file}:${problem}`);
      failed = true;
    }
  }
  process.exit(failed ? 1 : 0);
}
