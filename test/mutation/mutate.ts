/**
 * `npm run mutate`: StrykerJS over shared/ and lambda/ in chunks, each with its own incremental
 * file and JSON report, so a run cut short (it takes an hour or more on a 2-core machine) keeps
 * every chunk it finished and a rerun tests only the mutants whose code or tests changed. Then
 * prints the combined score (`npm run mutate:score` prints it again from the saved reports).
 *
 *   npm run mutate                           every chunk
 *   npm run mutate -- shared                 named chunks only
 *   npm run mutate -- --survivors lambda     retest only what the last report left alive
 *
 * `--survivors`: after writing tests against a report's survivors, retests those mutants, and
 * every mutant of a file whose source changed since, instead of the whole chunk; every other
 * result is kept from the report. Adding tests cannot revive a killed mutant, but changing or
 * removing one can: after such a change, run the chunk in full.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { mergeRetest, type Report, retestPlan } from './retest.ts';
import { CHUNKS, printScore, REPORT_DIR } from './score.ts';

const base = JSON.parse(readFileSync('stryker.config.json', 'utf8')) as Record<string, unknown>;
const args = process.argv.slice(2);
const survivorsOnly = args.includes('--survivors');
const wanted = args.filter((a) => a !== '--survivors');
const unknown = wanted.filter((name) => !CHUNKS.some((c) => c.name === name));
if (unknown.length > 0) {
  console.error(`unknown chunk ${unknown.join(', ')}; chunks: ${CHUNKS.map((c) => c.name).join(', ')}`);
  process.exit(2);
}

mkdirSync(REPORT_DIR, { recursive: true });
let failed = false;
for (const chunk of CHUNKS.filter((c) => wanted.length === 0 || wanted.includes(c.name))) {
  const reportFile = `${REPORT_DIR}/${chunk.name}.json`;
  let mutate: string[] = [...chunk.mutate, '!**/*.test.ts'];
  let previous: Report | undefined;
  if (survivorsOnly) {
    if (!existsSync(reportFile)) {
      console.error(`${chunk.name}: no report to retest; run the chunk in full first`);
      failed = true;
      continue;
    }
    previous = JSON.parse(readFileSync(reportFile, 'utf8')) as Report;
    mutate = retestPlan(previous, (file) => readFileSync(file, 'utf8'));
    if (mutate.length === 0) {
      console.log(`== ${chunk.name}: nothing survived and nothing changed`);
      continue;
    }
  }
  const output = survivorsOnly ? `${REPORT_DIR}/${chunk.name}.retest.json` : reportFile;
  // Stryker reads its config from a file; the chunk's copy lives only while it runs.
  const configFile = `.stryker-${chunk.name}.tmp.json`;
  writeFileSync(
    configFile,
    JSON.stringify({
      ...base,
      mutate,
      // A retest must not overwrite the chunk's incremental file with its partial view.
      ...(survivorsOnly
        ? { incremental: false }
        : { incrementalFile: `${REPORT_DIR}/${chunk.name}.incremental.json` }),
      jsonReporter: { fileName: output },
      htmlReporter: { fileName: `${REPORT_DIR}/${chunk.name}${survivorsOnly ? '.retest' : ''}.html` },
    }),
  );
  const started = Date.now();
  console.log(
    `\n== ${chunk.name}: ${survivorsOnly ? `retest of ${mutate.length} places` : mutate.join(' ')}`,
  );
  const result = spawnSync('npx', ['stryker', 'run', configFile], { stdio: 'inherit' });
  rmSync(configFile, { force: true });
  console.log(`== ${chunk.name}: ${Math.round((Date.now() - started) / 60_000)} min, exit ${result.status}`);
  failed ||= result.status !== 0;
  if (previous && result.status === 0) {
    const retest = JSON.parse(readFileSync(output, 'utf8')) as Report;
    const { merged, retested, kept } = mergeRetest(previous, retest);
    writeFileSync(reportFile, JSON.stringify(merged));
    console.log(`== ${chunk.name}: ${retested} results retested, ${kept} kept from the last report`);
  }
}
printScore();
process.exit(failed ? 1 : 0);
