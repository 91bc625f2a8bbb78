/**
 * `npm run mutate`: StrykerJS over shared/ and lambda/ in chunks, each with its own incremental
 * file and JSON report, so a run cut short (it takes hours on a 2-core machine) keeps every chunk
 * it finished and a rerun tests only the mutants whose code or tests changed. Then prints the
 * combined score (`npm run mutate:score` prints it again from the saved reports).
 *
 *   npm run mutate                 every chunk
 *   npm run mutate -- shared       named chunks only
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { CHUNKS, printScore, REPORT_DIR } from './score.ts';

const base = JSON.parse(readFileSync('stryker.config.json', 'utf8')) as Record<string, unknown>;
const wanted = process.argv.slice(2);
const unknown = wanted.filter((name) => !CHUNKS.some((c) => c.name === name));
if (unknown.length > 0) {
  console.error(`unknown chunk ${unknown.join(', ')}; chunks: ${CHUNKS.map((c) => c.name).join(', ')}`);
  process.exit(2);
}

mkdirSync(REPORT_DIR, { recursive: true });
let failed = false;
for (const chunk of CHUNKS.filter((c) => wanted.length === 0 || wanted.includes(c.name))) {
  // Stryker reads its config from a file; the chunk's copy lives only while it runs.
  const configFile = `.stryker-${chunk.name}.tmp.json`;
  writeFileSync(
    configFile,
    JSON.stringify({
      ...base,
      mutate: [...chunk.mutate, '!**/*.test.ts'],
      incrementalFile: `${REPORT_DIR}/${chunk.name}.incremental.json`,
      jsonReporter: { fileName: `${REPORT_DIR}/${chunk.name}.json` },
      htmlReporter: { fileName: `${REPORT_DIR}/${chunk.name}.html` },
    }),
  );
  const started = Date.now();
  console.log(`\n== ${chunk.name}: ${chunk.mutate.join(' ')}`);
  const result = spawnSync('npx', ['stryker', 'run', configFile], { stdio: 'inherit' });
  rmSync(configFile, { force: true });
  console.log(`== ${chunk.name}: ${Math.round((Date.now() - started) / 60_000)} min, exit ${result.status}`);
  failed ||= result.status !== 0;
}
printScore();
process.exit(failed ? 1 : 0);
