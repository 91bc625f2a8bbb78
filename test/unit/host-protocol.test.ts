/**
 * The host line protocol is described once, in shared/documents/README.md. This reads every code the
 * scripts can print (as the documents carry them, common functions spliced in) and fails when one is
 * missing from that description, or from the parser and the report's words for it, so neither can drift
 * from the scripts. It also fails on a printed code it cannot trace to its source: teach it the new form.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { Platform } from '../../shared/catalog.ts';
import { type DocumentRole, linuxScript, windowsScript } from '../../shared/documents/ssm-documents.ts';
import { PUSH_RESULTS, SKIP_REASONS, TOO_LATE_REASON } from '../../shared/host-protocol.ts';
import { MISSING_PARAMETERS_PROBLEM, parseProbeOutput, parsePushOutput } from '../../shared/host-report.ts';
import { PUSH_FAILURE_REASONS } from '../../shared/token-rules.ts';

type Kind = 'host error' | 'host result' | 'key error' | 'push=skipped reason' | 'reason';
/** `push=skipped reason` before `reason`: the longer form is the one a skip line prints. */
const KINDS: readonly Kind[] = ['host error', 'host result', 'key error', 'push=skipped reason', 'reason'];
const ROLES: readonly DocumentRole[] = ['probe', 'push'];
const PLATFORMS: readonly Platform[] = ['Linux', 'Windows'];
const CODE = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;

const PROTOCOL = readFileSync(new URL('../../shared/documents/README.md', import.meta.url), 'utf8');

function scriptOf(platform: Platform, role: DocumentRole): string {
  return platform === 'Linux' ? linuxScript(role) : windowsScript(role);
}

/** The capture group of every match of `pattern` in `text`; fails when there is none. */
function all(text: string, pattern: RegExp, what: string): string[] {
  const found = [...text.matchAll(pattern)].map((m) => m[1] ?? '');
  if (found.length === 0)
    throw new Error(`found no ${what}: the script changed, teach this test the new form`);
  return found;
}

/** The text of one region of a script; fails when the region is gone. */
function region(text: string, pattern: RegExp, what: string): string {
  const match = pattern.exec(text);
  if (!match?.[1]) throw new Error(`found no ${what}: the script changed, teach this test the new form`);
  return match[1];
}

/**
 * Where a code comes from when the script prints it through a variable: the value after `kind=` as it
 * stands in the script text, and the codes it can hold there.
 */
function dynamicCodes(
  platform: Platform,
  push: string,
  probe: string,
): ReadonlyMap<string, readonly string[]> {
  if (platform === 'Linux') {
    // fail_all prints `reason=$1` for each code it is called with.
    const failAll = all(push, /\bfail_all ([a-z0-9-]+)/g, 'fail_all call');
    // `reason=$outcome`: whatever deliver_to (and the writer it runs) echoes as a statement (an echo
    // inside $(…) is no outcome), but `written` and the skip reasons (each printed on its own line); or
    // the default of the assignment.
    const writer = region(push, /^WRITER='([\s\S]*?)'$/m, 'WRITER script');
    const deliverTo = region(push, /^deliver_to\(\) \{\n([\s\S]*?)\n\}$/m, 'deliver_to function');
    const echoed = all(
      `${writer}\n${deliverTo}`,
      /\becho ([a-z][a-z0-9-]*)(?=\s*;|$)/gm,
      'outcome echoed by deliver_to',
    );
    const fallback = all(push, /status\[\$name\]="\$\{outcome:-([a-z0-9-]+)\}"/g, 'outcome default');
    const skips = all(push, /push=skipped reason=([a-z0-9-]+)/g, 'skip reason');
    return new Map([
      ['$1', failAll],
      ['$outcome', [...echoed, ...fallback].filter((c) => c !== 'written' && !skips.includes(c))],
    ]);
  }
  // Write-KtrPrivateFile's outcomes: `written`, or why not.
  const writeFile = region(
    `${push}\n${probe}`,
    /^function Write-KtrPrivateFile\([^)]*\) \{\n([\s\S]*?)\n\}$/m,
    'Write-KtrPrivateFile function',
  );
  const writeFailures = all(writeFile, /\breturn '([a-z0-9-]+)'/g, 'Write-KtrPrivateFile outcome').filter(
    (c) => c !== 'written',
  );
  // `reason={1}`: Stop-KtrAll's reason, or a component's status (set literally or from Write-KtrPrivateFile).
  const stopAll = all(push, /\bStop-KtrAll '([a-z0-9-]+)'/g, 'Stop-KtrAll call');
  // A status that is a skip reason is printed on its own `push=skipped` line, never as `reason={1}`.
  const skips = all(push, /push=skipped reason=([a-z0-9-]+)/g, 'skip reason');
  const statuses = all(push, /\$status\[\$component\.Name\] = '([a-z0-9-]+)'/g, 'component status').filter(
    (c) => !skips.includes(c),
  );
  all(push, /\$status\[\$component\.Name\] = (\$written)$/gm, 'status from Write-KtrPrivateFile');
  all(probe, /'key error=key-' \+ (\$written)/g, 'key error from Write-KtrPrivateFile');
  return new Map([
    ['{1}', [...stopAll, ...statuses, ...writeFailures]],
    ['key-', writeFailures.map((c) => `key-${c}`)],
  ]);
}

/** Every `kind=code` the platform's scripts can print, each with the scripts printing it. */
function printedCodes(platform: Platform): Map<string, Set<DocumentRole>> {
  const texts = { probe: scriptOf(platform, 'probe'), push: scriptOf(platform, 'push') };
  const dynamic = dynamicCodes(platform, texts.push, texts.probe);
  const codes = new Map<string, Set<DocumentRole>>();
  for (const role of ROLES) {
    const text = texts[role];
    const occurrences = [
      ...text.matchAll(/(host error|host result|key error|push=skipped reason|reason)=([^\s'"]*)/g),
    ];
    // Every error=, result= and reason= in the script is one of the kinds above.
    if (occurrences.length !== [...text.matchAll(/\b(?:error|result|reason)=/g)].length) {
      throw new Error(`${platform} ${role}: an error=, result= or reason= of an unknown kind`);
    }
    for (const [, kind = '', value = ''] of occurrences) {
      const values = CODE.test(value) ? [value] : dynamic.get(value);
      if (!values) throw new Error(`${platform} ${role}: cannot tell what "${kind}=${value}" prints`);
      for (const code of values) {
        const key = `${kind}=${code}`;
        codes.set(key, (codes.get(key) ?? new Set()).add(role));
      }
    }
  }
  return codes;
}

/** kind=code → the platforms whose scripts print it. */
function printedOnEitherPlatform(): Map<string, Set<Platform>> {
  const byCode = new Map<string, Set<Platform>>();
  for (const platform of PLATFORMS) {
    for (const key of printedCodes(platform).keys())
      byCode.set(key, (byCode.get(key) ?? new Set()).add(platform));
  }
  return byCode;
}

/** kind=code → the "by" cell of its row in the protocol document's code tables ("## Codes"). */
function documentedCodes(): Map<string, string> {
  const section = region(PROTOCOL, /^## Codes\n([\s\S]*?)(?=^## |(?![\s\S]))/m, '"## Codes" section');
  const rows = new Map<string, string>();
  const kinds = KINDS.join('|');
  for (const [, key = '', by = ''] of section.matchAll(
    new RegExp(`^\\| \`((?:${kinds})=[a-z0-9-]+)\` +\\| ([^|]+?) +\\|`, 'gm'),
  )) {
    rows.set(key, by);
  }
  return rows;
}

let printed: Map<string, Set<Platform>> | undefined;
/** kind=code → the platforms whose scripts print it, read once. */
function PRINTED(): Map<string, Set<Platform>> {
  printed ??= printedOnEitherPlatform();
  return printed;
}
const codesOf = (kind: Kind) =>
  [...PRINTED().keys()].filter((k) => k.startsWith(`${kind}=`)).map((k) => k.slice(kind.length + 1));

describe('the codes the host scripts print', () => {
  it('are found for every kind, on both platforms', () => {
    for (const platform of PLATFORMS) {
      const kinds = new Set([...printedCodes(platform).keys()].map((k) => k.slice(0, k.lastIndexOf('='))));
      expect([...kinds].sort(), platform).toEqual([...KINDS].sort());
    }
  });

  it('each have a row in shared/documents/README.md naming exactly the platforms that print it', () => {
    // Prepare
    const documented = documentedCodes();

    // Assess
    for (const [key, platforms] of PRINTED()) {
      expect(documented.has(key), `${key} is missing from shared/documents/README.md`).toBe(true);
      expect(documented.get(key), key).toBe([...platforms].sort().join(', '));
    }
  });

  it('are all the codes shared/documents/README.md lists (but the one the parser makes)', () => {
    // Assess
    for (const [key, by] of documentedCodes()) {
      if (key === `reason=${TOO_LATE_REASON}`) expect(by).toBe('the parser');
      else expect(PRINTED().has(key), `${key} is documented but no script prints it`).toBe(true);
    }
  });

  it('include host error=missing-parameters only, which the parser reads as an SSM Agent too old', () => {
    expect(codesOf('host error')).toEqual(['missing-parameters']);
    for (const code of codesOf('host error')) {
      expect(parseProbeOutput(`ktr-probe v1\nhost error=${code}\nend\n`)).toEqual({
        ok: false,
        problem: MISSING_PARAMETERS_PROBLEM,
      });
      expect(parsePushOutput(`ktr-push v1\nhost error=${code}\nend\n`)).toEqual({
        ok: false,
        problem: MISSING_PARAMETERS_PROBLEM,
      });
    }
  });

  it('include only host results the parser knows, and every one it knows', () => {
    expect(codesOf('host result').sort()).toEqual([...PUSH_RESULTS].sort());
  });

  it('include only key errors the parser takes as a reason the key could not be made', () => {
    for (const code of codesOf('key error')) {
      const parsed = parseProbeOutput(`ktr-probe v1\nhost unseal=1 now=1\nkey error=${code}\nend\n`);
      expect(parsed, code).toMatchObject({
        ok: true,
        value: { sealingKey: { kind: 'error', reason: code } },
      });
    }
  });

  it('include only skip reasons the parser knows, and every one it knows, each read as a push that stood back', () => {
    expect(codesOf('push=skipped reason').sort()).toEqual([...SKIP_REASONS].sort());
    for (const code of codesOf('push=skipped reason')) {
      const parsed = parsePushOutput(
        `ktr-push v1\ncomp agent push=skipped reason=${code} token=none reg=3 running=true\nend\n`,
      );
      expect(parsed, code).toMatchObject({
        ok: true,
        value: { outcomes: [{ kind: 'skipped', reason: code }] },
      });
    }
  });

  it('include only push reasons the report has words for, and the report words no reason nobody prints', () => {
    const reasons = codesOf('reason');
    for (const code of reasons) {
      expect(PUSH_FAILURE_REASONS, `no words for reason=${code} in shared/token-rules.ts`).toContain(code);
      const parsed = parsePushOutput(`ktr-push v1\ncomp agent push=failed reason=${code}\nend\n`);
      expect(parsed, code).toMatchObject({
        ok: true,
        value: { outcomes: [{ kind: 'failed', reason: code }] },
      });
    }
    expect([...PUSH_FAILURE_REASONS].sort()).toEqual([...reasons, TOO_LATE_REASON].sort());
  });

  it('say unseal= for "this host can unseal", on both platforms, and never openssl=', () => {
    for (const platform of PLATFORMS) {
      const probe = scriptOf(platform, 'probe');
      expect(probe, platform).toMatch(/host unseal=/);
      expect(probe, platform).not.toMatch(/openssl=/);
    }
    expect(PROTOCOL).toContain('`host unseal=0\\|1 now=SECONDS`');
  });
});
