/**
 * The survivors-only retest of `npm run mutate -- --survivors`: which places to mutate again,
 * and how the retest's results replace the old ones in the chunk's report.
 */

interface Position {
  line: number;
  column: number;
}
export interface ReportMutant {
  mutatorName: string;
  replacement?: string;
  status: string;
  location: { start: Position; end: Position };
  [key: string]: unknown;
}
export interface Report {
  files: Record<string, { source: string; mutants: ReportMutant[]; [key: string]: unknown }>;
  [key: string]: unknown;
}

const ALIVE = new Set(['Survived', 'NoCoverage']);

/**
 * Stryker `mutate` entries: a file whose source changed since the report, whole; in every other
 * file, the exact span of each mutant still alive.
 */
export function retestPlan(report: Report, read: (file: string) => string): string[] {
  const plan: string[] = [];
  for (const [file, { source, mutants }] of Object.entries(report.files)) {
    if (read(file) !== source) {
      plan.push(file);
      continue;
    }
    for (const m of mutants) {
      if (!ALIVE.has(m.status)) continue;
      // Reports count columns from 1; Stryker's ranges from 0, both ends included.
      const { start, end } = m.location;
      plan.push(`${file}:${start.line}:${start.column - 1}-${end.line}:${end.column}`);
    }
  }
  return [...new Set(plan)];
}

const key = (m: ReportMutant) =>
  JSON.stringify([m.mutatorName, m.replacement ?? '', m.location.start, m.location.end]);

/**
 * The report with the retest's results: a file the retest mutated whole (its source changed)
 * is taken from it; elsewhere each retested mutant replaces its old result.
 */
export function mergeRetest(
  previous: Report,
  retest: Report,
): { merged: Report; retested: number; kept: number } {
  const files: Report['files'] = {};
  let retested = 0;
  let kept = 0;
  for (const [file, old] of Object.entries(previous.files)) {
    const fresh = retest.files[file];
    if (fresh && fresh.source !== old.source) {
      files[file] = fresh;
      retested += fresh.mutants.length;
      continue;
    }
    const byKey = new Map((fresh?.mutants ?? []).map((m) => [key(m), m]));
    files[file] = {
      ...old,
      mutants: old.mutants.map((m) => {
        const again = byKey.get(key(m));
        if (again) retested++;
        else kept++;
        return again ?? m;
      }),
    };
  }
  return { merged: { ...previous, files }, retested, kept };
}
