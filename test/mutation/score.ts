/**
 * The combined mutation score of the chunks' saved Stryker reports, and every surviving mutant in
 * three lists: those in equivalent.json (with the reason no test can kill them), those the
 * TypeScript compiler rejects (the run goes without Stryker's checker, see compile-check.ts), and
 * the rest, which are work to do. The score is Stryker's own: killed and timed-out mutants over all
 * the others; a survivor counts against it whichever list it is in.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { CompileCheck, type MutantPlace } from './compile-check.ts';

export const REPORT_DIR = 'reports/mutation';

/** Cut so that the fast pure code finishes first and the loop's slower tests come last. */
export const CHUNKS = [
  { name: 'shared', mutate: ['shared/**/*.ts'] },
  { name: 'lambda', mutate: ['lambda/*.ts', 'lambda/steps/**/*.ts'] },
  { name: 'lambda-aws', mutate: ['lambda/aws/**/*.ts'] },
] as const;

interface Mutant extends MutantPlace {
  mutatorName: string;
  status: string;
}
interface Report {
  files: Record<string, { source: string; mutants: Mutant[] }>;
}
export interface Equivalent {
  file: string;
  line: number;
  column: number;
  mutator: string;
  reason: string;
}

const DETECTED = new Set(['Killed', 'Timeout']);
const UNDETECTED = new Set(['Survived', 'NoCoverage']);

export interface Tally {
  detected: number;
  undetected: number;
}
export const score = (t: Tally) =>
  t.detected + t.undetected === 0 ? 100 : (100 * t.detected) / (t.detected + t.undetected);

export function printScore(dir = REPORT_DIR): void {
  const equivalents = JSON.parse(
    readFileSync(fileURLToPath(new URL('./equivalent.json', import.meta.url)), 'utf8'),
  ) as Equivalent[];
  const total: Tally = { detected: 0, undetected: 0 };
  const open: string[] = [];
  const equivalent: string[] = [];
  const rejected: string[] = [];
  const used = new Set<Equivalent>();
  const compiles = compileErrors(dir);
  for (const chunk of CHUNKS) {
    const file = `${dir}/${chunk.name}.json`;
    if (!existsSync(file)) {
      console.log(`${chunk.name}: no report (not run yet)`);
      continue;
    }
    const report = JSON.parse(readFileSync(file, 'utf8')) as Report;
    const tally: Tally = { detected: 0, undetected: 0 };
    for (const [path, { source, mutants }] of Object.entries(report.files)) {
      for (const m of mutants) {
        if (DETECTED.has(m.status)) tally.detected++;
        if (!UNDETECTED.has(m.status)) continue;
        tally.undetected++;
        const { line, column } = m.location.start;
        const where = `${path}:${line}:${column} ${m.mutatorName} ${m.status}${m.replacement ? ` → ${oneLine(m.replacement)}` : ''}`;
        const known = equivalents.find(
          (e) => e.file === path && e.line === line && e.column === column && e.mutator === m.mutatorName,
        );
        if (known) {
          used.add(known);
          equivalent.push(`${where}\n    equivalent: ${known.reason}`);
          continue;
        }
        const error = compiles(path, source, m);
        if (error) rejected.push(`${where}\n    ${oneLine(error, 150)}`);
        else open.push(where);
      }
    }
    total.detected += tally.detected;
    total.undetected += tally.undetected;
    console.log(
      `${chunk.name}: ${score(tally).toFixed(1)} % (${tally.detected} detected of ${tally.detected + tally.undetected})`,
    );
  }
  // An entry that matches no survivor was killed since, or its code moved: either way it is stale.
  const stale = equivalents.filter((e) => !used.has(e));
  if (stale.length > 0) {
    console.log(`\nequivalent.json entries matching no survivor (remove or move them):`);
    for (const e of stale) console.log(`  ${e.file}:${e.line}:${e.column} ${e.mutator}`);
  }
  console.log(`\nsurvivors not yet killed (${open.length}):\n  ${open.join('\n  ')}`);
  console.log(`\nequivalent survivors (${equivalent.length}):\n  ${equivalent.join('\n  ')}`);
  console.log(
    `\nsurvivors the TypeScript compiler rejects (${rejected.length}):\n  ${rejected.join('\n  ')}`,
  );
  compiles.save();
  console.log(
    `\nmutation score: ${score(total).toFixed(1)} % (${total.detected} detected of ${total.detected + total.undetected})`,
  );
}

/** The compiler's verdict per survivor, kept beside the reports: each check costs about a second. */
function compileErrors(dir: string) {
  const file = `${dir}/compile-errors.json`;
  const cache = (existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : {}) as Record<
    string,
    string | null
  >;
  let check: CompileCheck | undefined;
  const verdict = (path: string, source: string, m: Mutant) => {
    const key = createHash('sha256')
      .update(JSON.stringify([path, source, m.location, m.replacement]))
      .digest('hex');
    if (!(key in cache)) {
      check ??= new CompileCheck();
      cache[key] = check.errorFor(path, source, m) ?? null;
    }
    return cache[key] ?? undefined;
  };
  return Object.assign(verdict, { save: () => writeFileSync(file, `${JSON.stringify(cache, null, 1)}\n`) });
}

const oneLine = (s: string, max = 70) => {
  const flat = s.replace(/\s+/g, ' ');
  return flat.length > max ? `${flat.slice(0, max - 3)}…` : flat;
};

if (process.argv[1] === fileURLToPath(import.meta.url)) printScore();
