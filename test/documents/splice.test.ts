/**
 * The fallback for SSM Agents before 3.3.2746.0, which set no SSM_* variables but splice each
 * parameter's value into the step's text wherever it says `{{ Name }}` (amazon-ssm-agent
 * agent/framework/docparser/parameters ReplaceParameter: `{{\s*Name\s*}}`, case-sensitive). Splicing is
 * safe only where the value cannot leave the quotes it lands in: this proves, from the allowedPatterns
 * themselves (their rune sets, as Go parses them), that no value a pattern admits can, and, from the
 * document text, that every splice site is such a quoted fallback line.
 */
import { describe, expect, it } from 'vitest';
import {
  probeDocument,
  pushDocument,
  type SsmDocumentContent,
} from '../../shared/documents/ssm-documents.ts';
import { checkPatterns, goGate, inRanges } from '../go/pattern-check.ts';

const gate = goGate();
if (gate.skip) console.warn(`The Go rune-set test of the fallback is skipped: ${gate.missing}`);
const itGo = it.skipIf(gate.skip);

const DOCUMENTS: Readonly<Record<string, SsmDocumentContent>> = {
  probe: probeDocument(),
  push: pushDocument(),
};

/** Where the agent would splice: its own placeholder regex, for any name. */
const PLACEHOLDER = /\{\{\s*([A-Za-z0-9]+)\s*\}\}/g;
/** The one line a splice may sit on, per step action: the fallback, the value inside single quotes. */
const FALLBACK_LINE: Readonly<Record<string, RegExp>> = {
  'aws:runShellScript':
    /^if \[ -z "\$\{SSM_([A-Za-z0-9]+)\+x\}" \]; then SSM_([A-Za-z0-9]+)='\{\{([A-Za-z0-9]+)\}\}'; fi$/,
  'aws:runPowerShellScript':
    /^if \(\$null -eq \$env:SSM_([A-Za-z0-9]+)\) \{ \$env:SSM_([A-Za-z0-9]+) = '\{\{([A-Za-z0-9]+)\}\}' \}$/,
};
/** What the quotes around a splice let the shell interpret, besides control characters and `.`. */
const SPECIAL: Readonly<Record<string, readonly number[]>> = {
  // bash, inside '…': only ' ends it.
  'aws:runShellScript': [0x27],
  // PowerShell, inside '…': ' and the Unicode single quotes U+2018 to U+201B end it.
  'aws:runPowerShellScript': [0x27, 0x2018, 0x2019, 0x201a, 0x201b],
};

interface Splice {
  readonly document: string;
  readonly step: string;
  readonly action: string;
  readonly name: string;
}

/** Every splice site of every step, checked to be a fallback line; throws on any other. */
function spliceSites(): Splice[] {
  const sites: Splice[] = [];
  for (const [document, content] of Object.entries(DOCUMENTS)) {
    for (const step of content.mainSteps) {
      const where = `${document} ${step.name}`;
      const text = step.inputs.runCommand.join('\n');
      // No double brace at all but the placeholders: `{{ssm:…}}` and friends are references too.
      const braces = [...text.matchAll(/\{\{/g)].length;
      expect([...text.matchAll(PLACEHOLDER)].length, `${where}: a {{ that is no placeholder`).toBe(braces);
      const seen = new Set<string>();
      for (const line of step.inputs.runCommand) {
        const placeholders = [...line.matchAll(PLACEHOLDER)];
        if (placeholders.length === 0) continue;
        const fallback = FALLBACK_LINE[step.action]?.exec(line);
        expect(fallback, `${where}: a splice outside a single-quoted fallback line: ${line}`).not.toBeNull();
        const [, tested, assigned, spliced] = fallback ?? [];
        expect([assigned, spliced], `${where}: ${line}`).toEqual([tested, tested]);
        expect(placeholders.length, `${where}: ${line}`).toBe(1);
        const name = tested ?? '';
        expect(Object.keys(content.parameters), `${where}: ${name} is no parameter`).toContain(name);
        expect(seen.has(name), `${where}: ${name} has two fallback lines`).toBe(false);
        seen.add(name);
        sites.push({ document, step: step.name, action: step.action, name });
      }
      // Every parameter the step reads has its fallback.
      const read = new Set(
        [...text.matchAll(/SSM_([A-Za-z0-9]+)/g)]
          .map((m) => m[1] ?? '')
          .filter((n) => n in content.parameters),
      );
      expect([...seen].sort(), `${where}: parameters read without a fallback`).toEqual([...read].sort());
    }
  }
  return sites;
}

describe('the fallback for SSM Agents that splice parameters into the script text', () => {
  it('splices only on single-quoted fallback lines, one per parameter each step reads', () => {
    // Act
    const sites = spliceSites();

    // Assess
    expect(sites.map((s) => `${s.document}.${s.step}.${s.name}`).sort()).toEqual(
      [
        'probe.probeLinux.GraceSeconds',
        'probe.probeLinux.InstallRoot',
        'probe.probeLinux.KeyPair',
        'probe.probeLinux.RunId',
        'probe.probeWindows.GraceSeconds',
        'probe.probeWindows.KeyPair',
        'probe.probeWindows.RunId',
        'probe.probeWindows.WindowsInstallDir',
        'probe.probeWindows.WindowsServiceName',
        'push.pushLinux.Deliveries',
        'push.pushLinux.InstallRoot',
        'push.pushLinux.NotAfter',
        'push.pushLinux.RunId',
        'push.pushLinux.WaitSeconds',
        'push.pushWindows.Deliveries',
        'push.pushWindows.NotAfter',
        'push.pushWindows.RunId',
        'push.pushWindows.WaitSeconds',
        'push.pushWindows.WindowsInstallDir',
        'push.pushWindows.WindowsServiceName',
      ].sort(),
    );
  });

  itGo(
    `splices only values whose every rune the quotes hold: no quote, no control character, no “.”${gate.missing ? ` [${gate.missing}]` : ''}`,
    () => {
      // Prepare
      const sites = spliceSites();

      // Act
      const results = checkPatterns(
        sites.map((s) => ({
          name: `${s.document}.${s.step}.${s.name}`,
          pattern: DOCUMENTS[s.document]?.parameters[s.name]?.allowedPattern ?? '',
          values: [],
        })),
      );

      // Assess
      for (const [i, r] of results.entries()) {
        const site = sites[i] as Splice;
        expect(r.compiles, r.name).toBe(true);
        expect(r.anyChar, `${r.name} admits any character`).toBe(false);
        expect(r.runes.length, `${r.name}: no runes found`).toBeGreaterThan(0);
        const forbidden = [
          ...(SPECIAL[site.action] ?? []),
          0x7f,
          ...Array.from({ length: 0x20 }, (_, c) => c),
        ];
        for (const c of forbidden) {
          expect(inRanges(r.runes, c), `${r.name} admits U+${c.toString(16).padStart(4, '0')}`).toBe(false);
        }
      }
    },
  );

  itGo('finds a quote in a pattern that admits one, so the proof above can fail', () => {
    // Act
    const [quote, folded, dot] = checkPatterns([
      { name: 'quote', pattern: "^[A-Za-z0-9'-]+$", values: [] },
      { name: 'folded', pattern: '^(?i:[\u2018])$', values: [] },
      { name: 'dot', pattern: '^a.b$', values: [] },
    ]);

    // Assess
    expect(inRanges(quote?.runes ?? [], 0x27)).toBe(true);
    expect(inRanges(folded?.runes ?? [], 0x2018)).toBe(true);
    expect(dot?.anyChar).toBe(true);
  });
});
