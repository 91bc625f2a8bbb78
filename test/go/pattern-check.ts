/**
 * Go's regexp, the one the SSM Agent checks every document parameter's allowedPattern with, for tests:
 * builds test/go/patterncheck (standard library only, offline) once into a cache directory keyed by its
 * source's hash, and runs it. JavaScript's RegExp accepts patterns Go refuses (nested repeat counts past
 * 1000, for one), so only Go can say whether a pattern works on a real host.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { executable } from '../proving-ground/hosts/pwsh.ts';

const SOURCE_DIR = fileURLToPath(new URL('./patterncheck/', import.meta.url));
const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CACHE_DIR = join(REPO_ROOT, 'node_modules', '.cache', 'ktr-go');
/** Where .ci/run installs it (Debian bookworm-backports' golang-1.23-go). */
const DEBIAN_GO = '/usr/lib/go-1.23/bin/go';
export const GO_INSTALL_HINT = 'apt-get install -y -t bookworm-backports golang-1.23-go (as .ci/run does)';

export interface PatternInput {
  readonly name: string;
  readonly pattern: string;
  readonly values: readonly string[];
}

export interface PatternResult {
  readonly name: string;
  readonly pattern: string;
  /** Whether Go's `regexp.Compile` accepts the pattern. */
  readonly compiles: boolean;
  /** Go's error text when it does not. */
  readonly error?: string;
  /** Go's `MatchString` for each input value, in order. */
  readonly matches: readonly boolean[];
  /** Inclusive [lo, hi] code point ranges of every rune a literal or class of the pattern admits. */
  readonly runes: readonly (readonly [number, number])[];
  /** The pattern holds `.`, which admits any rune. */
  readonly anyChar: boolean;
}

let found: { path: string | undefined } | undefined;

/** The go command: $KTR_GO, Debian's Go 1.23, or `go` on PATH; undefined when there is none. */
export function findGo(): string | undefined {
  if (found) return found.path;
  const candidates = [
    process.env.KTR_GO,
    DEBIAN_GO,
    ...(process.env.PATH ?? '').split(delimiter).map((dir) => (dir ? join(dir, 'go') : undefined)),
  ];
  found = { path: candidates.find((c): c is string => c !== undefined && c !== '' && executable(c)) };
  return found.path;
}

/**
 * For tests that need Go: skip them (saying why) where it is missing, except in CI (`CI=true`), where
 * they run and fail with that message, because CI installs Go (.ci/run).
 */
export function goGate(): { readonly skip: boolean; readonly missing: string | undefined } {
  if (findGo()) return { skip: false, missing: undefined };
  const missing = `Go is not installed on this machine (install it with: ${GO_INSTALL_HINT})`;
  return { skip: process.env.CI !== 'true', missing };
}

function sourceHash(): string {
  const hash = createHash('sha256');
  for (const file of ['go.mod', 'main.go'])
    hash
      .update(file)
      .update('\0')
      .update(readFileSync(join(SOURCE_DIR, file)));
  return hash.digest('hex').slice(0, 16);
}

let built: string | undefined;

/** Path of the built checker, building it first when the cache has none for this source. */
export function patternCheckBinary(): string {
  if (built) return built;
  const go = findGo();
  if (!go) throw new Error(goGate().missing);
  const binary = join(CACHE_DIR, `patterncheck-${sourceHash()}`);
  if (!existsSync(binary)) {
    mkdirSync(CACHE_DIR, { recursive: true });
    // Built beside its final name and renamed: two test files building at once never run half a file.
    const partial = `${binary}.${process.pid}.tmp`;
    try {
      execFileSync(go, ['build', '-trimpath', '-o', partial, '.'], {
        cwd: SOURCE_DIR,
        env: {
          ...process.env,
          GOFLAGS: '-mod=mod',
          GOTOOLCHAIN: 'local',
          GOPROXY: 'off',
          CGO_ENABLED: '0',
          GOCACHE: process.env.GOCACHE ?? join(CACHE_DIR, 'gocache'),
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      renameSync(partial, binary);
    } finally {
      rmSync(partial, { force: true });
    }
  }
  built = binary;
  return binary;
}

/** Asks Go about each pattern (and its values); throws when the checker itself fails. */
export function checkPatterns(inputs: readonly PatternInput[]): PatternResult[] {
  const out = execFileSync(patternCheckBinary(), [], {
    input: JSON.stringify(inputs),
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  return JSON.parse(out) as PatternResult[];
}

/** Whether code point `c` lies in one of `ranges`. */
export function inRanges(ranges: PatternResult['runes'], c: number): boolean {
  return ranges.some(([lo, hi]) => lo <= c && c <= hi);
}
