/**
 * The combined mutation score of the chunks' saved Stryker reports, and every surviving mutant:
 * those listed in equivalent.json (with the reason no test can kill them) apart from the rest,
 * which are work to do. The score is Stryker's own: killed and timed-out mutants over all valid
 * ones; an equivalent survivor still counts against it.
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const REPORT_DIR = 'reports/mutation';

/** Cut so that the fast pure code finishes first and the loop's slower tests come last. */
export const CHUNKS = [
  { name: 'shared', mutate: ['shared/**/*.ts'] },
  { name: 'lambda', mutate: ['lambda/*.ts', 'lambda/steps/**/*.ts'] },
  { name: 'lambda-aws', mutate: ['lambda/aws/**/*.ts'] },
] as const;

interface Mutant {
  mutatorName: string;
  replacement?: string;
  status: string;
  location: { start: { line: number; column: number } };
}
interface Report {
  files: Record<string, { mutants: Mutant[] }>;
}
export interface Equivalent {
  file: string;
  line: number;
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
  for (const chunk of CHUNKS) {
    const file = `${dir}/${chunk.name}.json`;
    if (!existsSync(file)) {
      console.log(`${chunk.name}: no report (not run yet)`);
      continue;
    }
    const report = JSON.parse(readFileSync(file, 'utf8')) as Report;
    const tally: Tally = { detected: 0, undetected: 0 };
    for (const [path, { mutants }] of Object.entries(report.files)) {
      for (const m of mutants) {
        if (DETECTED.has(m.status)) tally.detected++;
        if (!UNDETECTED.has(m.status)) continue;
        tally.undetected++;
        const line = m.location.start.line;
        const where = `${path}:${line} ${m.mutatorName} ${m.status}${m.replacement ? ` → ${oneLine(m.replacement)}` : ''}`;
        const known = equivalents.find(
          (e) => e.file === path && e.line === line && e.mutator === m.mutatorName,
        );
        if (known) equivalent.push(`${where}\n    equivalent: ${known.reason}`);
        else open.push(where);
      }
    }
    total.detected += tally.detected;
    total.undetected += tally.undetected;
    console.log(
      `${chunk.name}: ${score(tally).toFixed(1)} % (${tally.detected} detected of ${tally.detected + tally.undetected})`,
    );
  }
  console.log(`\nsurvivors not yet killed (${open.length}):\n  ${open.join('\n  ')}`);
  console.log(`\nequivalent survivors (${equivalent.length}):\n  ${equivalent.join('\n  ')}`);
  console.log(
    `\nmutation score: ${score(total).toFixed(1)} % (${total.detected} detected of ${total.detected + total.undetected})`,
  );
}

const oneLine = (s: string) =>
  s.length > 70 ? `${s.slice(0, 67).replace(/\s+/g, ' ')}…` : s.replace(/\s+/g, ' ');

if (process.argv[1] === fileURLToPath(import.meta.url)) printScore();
