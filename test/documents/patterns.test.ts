/**
 * The documents' allowedPatterns as the SSM Agent sees them: compiled by Go's regexp (test/go/), not
 * JavaScript's. A pattern Go refuses fails the document on every host before any step runs.
 */
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { sealFor } from '../../lambda/seal.ts';
import { deliveriesValue } from '../../lambda/steps/deliver.ts';
import type { SealedDelivery } from '../../lambda/steps/prepare.ts';
import { type ComponentName, LINUX_COMPONENT_NAMES } from '../../shared/catalog.ts';
import {
  MAX_DELIVERIES_PER_PUSH,
  PARAMETER_PATTERNS,
  probeDocument,
  pushDocument,
} from '../../shared/documents/ssm-documents.ts';
import { checkPatterns, goGate, type PatternInput } from '../go/pattern-check.ts';

const gate = goGate();
if (gate.skip) console.warn(`The Go pattern tests are skipped: ${gate.missing}`);
/** Where Go is missing: skipped, but in CI (CI=true, which installs Go) run, and fail saying why. */
const itGo = it.skipIf(gate.skip);

/** Every parameter of both documents with its pattern and default, by document. */
function documentParameters(): { document: string; name: string; pattern: string; defaultValue?: string }[] {
  return Object.entries({ probe: probeDocument(), push: pushDocument() }).flatMap(([document, content]) =>
    Object.entries(content.parameters).map(([name, p]) => ({
      document,
      name,
      pattern: p.allowedPattern,
      ...(p.default === undefined ? {} : { defaultValue: p.default }),
    })),
  );
}

const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const SPKI = publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
/** A registration token as long as Kasm's, sealed the way the function seals it. */
const SEALED = sealFor(SPKI, 'A'.repeat(64));

function delivery(n: number, components: readonly ComponentName[]): SealedDelivery {
  const instanceId =
    n % 3 === 2 ? `mi-${n.toString(16).padStart(17, '0')}` : `i-${n.toString(16).padStart(17, '0')}`;
  return {
    node: { instanceId, platform: 'Linux', online: true, pingStatus: 'Online', agentVersion: '3.3.2746.0' },
    components,
    sealed: SEALED,
  };
}

/** What the function really sends, per parameter (beyond the documents' defaults). */
const SENT: Readonly<Record<string, readonly string[]>> = {
  InstallRoot: ['/opt', '/opt/kasm/current', '/srv/kasm-1.15.0_x/'],
  RunId: [randomUUID(), 'c0ffee00-1234-4abc-8def-0123456789ab', 'run-0001'],
  KeyPair: ['none', 'create', 'auto'],
  // The grace period setting's whole range (shared/settings.ts gracePeriodSeconds: 0 to 31536000).
  GraceSeconds: ['0', '60', '3600', '31536000'],
  WaitSeconds: ['0', '65', '999'],
  NotAfter: [String(Math.floor(Date.now() / 1000)), '1800000000', '9999999999'],
  Deliveries: [
    deliveriesValue([delivery(1, ['agent'])]),
    deliveriesValue([delivery(1, ['agent', 'guac', 'rdp_gateway', 'rdp_https_gateway'])]),
    deliveriesValue(
      Array.from({ length: MAX_DELIVERIES_PER_PUSH }, (_, i) => delivery(i, [...LINUX_COMPONENT_NAMES])),
    ),
  ],
  WindowsInstallDir: [
    'C:\\Program Files\\Kasm',
    'C:\\Program Files (x86)\\Kasm\\',
    'D:\\',
    'd:\\kasm.agent_1',
  ],
  WindowsServiceName: ['KasmAgent', 'Kasm Windows Agent', 'kasm_agent-2.0'],
};

/** Values no parameter may take: shell and PowerShell syntax, other shapes, nothing at all. */
const NONSENSE: Readonly<Record<string, readonly string[]>> = {
  InstallRoot: ['', 'opt/kasm', "/opt/kasm'; rm -rf /", '/opt/$(id)', '/opt/ka sm', '/opt/kasm\n'],
  RunId: ['', 'x'.repeat(65), "run'", 'run id', 'run;id', '{{RunId}}'],
  KeyPair: ['', 'yes', 'none ', 'createx', 'Auto'],
  GraceSeconds: ['', '-1', '1.5', '123456789', '60 ', '3600;'],
  WaitSeconds: ['', '1000', '-1', '6 5'],
  NotAfter: ['', '180000000', '18000000000', '1800000000;'],
  Deliveries: [
    '',
    `i-0123:agent:${SEALED}`,
    `${deliveriesValue([delivery(1, ['agent'])])} `,
    deliveriesValue([delivery(1, ['agent'])]).replace(':agent:', ':Agent:'),
    deliveriesValue([delivery(1, ['agent'])]).slice(0, -1),
    `${deliveriesValue([delivery(1, ['agent'])])}  ${deliveriesValue([delivery(2, ['guac'])])}`,
    `${deliveriesValue([delivery(1, ['agent'])])}'`,
  ],
  WindowsInstallDir: ['', 'Program Files', 'C:', "C:\\Kasm'", 'C:\\Ka$sm', 'C:\\Kasm\\\\Agent', 'C:/Kasm'],
  WindowsServiceName: ['', ' Kasm', "Kasm'", 'Kasm$x', 'K'.repeat(81), 'Kasm`n'],
};

describe('the documents’ allowed patterns, compiled by Go as the SSM Agent compiles them', () => {
  itGo(`compile, every one of both documents${gate.missing ? ` [${gate.missing}]` : ''}`, () => {
    // Prepare
    const params = documentParameters();

    // Act
    const results = checkPatterns(
      params.map((p) => ({ name: `${p.document}.${p.name}`, pattern: p.pattern, values: [] })),
    );

    // Assess
    for (const r of results) expect(r.error ?? '', r.name).toBe('');
    expect(results.map((r) => r.compiles)).toEqual(params.map(() => true));
  });

  itGo(
    'match every value the function sends, a 50-delivery push included, and the documents’ defaults',
    () => {
      // Prepare
      const inputs: PatternInput[] = documentParameters().map((p) => ({
        name: `${p.document}.${p.name}`,
        pattern: p.pattern,
        values: [...(SENT[p.name] ?? []), ...(p.defaultValue === undefined ? [] : [p.defaultValue])],
      }));

      // Act
      const results = checkPatterns(inputs);

      // Assess
      for (const [i, r] of results.entries()) {
        expect(inputs[i]?.values.length, `${r.name}: no values to try`).toBeGreaterThan(0);
        expect(r.matches, r.name).toEqual(inputs[i]?.values.map(() => true));
      }
    },
  );

  itGo('reject nonsense for every parameter', () => {
    // Prepare
    const inputs: PatternInput[] = documentParameters().map((p) => ({
      name: `${p.document}.${p.name}`,
      pattern: p.pattern,
      values: NONSENSE[p.name] ?? [],
    }));

    // Act
    const results = checkPatterns(inputs);

    // Assess
    for (const [i, r] of results.entries()) {
      expect(inputs[i]?.values.length, `${r.name}: no nonsense to try`).toBeGreaterThan(0);
      expect(r.matches, r.name).toEqual(inputs[i]?.values.map(() => false));
    }
  });

  itGo('refuse the earlier Deliveries pattern as the agent did: invalid repeat count {0,49}', () => {
    // Prepare
    const entry = PARAMETER_PATTERNS.deliveries.slice(1, PARAMETER_PATTERNS.deliveries.indexOf('(?: '));
    const earlier = `^${entry}(?: ${entry}){0,${MAX_DELIVERIES_PER_PUSH - 1}}$`;

    // Act
    const [result] = checkPatterns([{ name: 'earlier', pattern: earlier, values: [] }]);

    // Assess
    expect(result).toMatchObject({
      compiles: false,
      error: 'error parsing regexp: invalid repeat count: `{0,49}`',
    });
  });
});
