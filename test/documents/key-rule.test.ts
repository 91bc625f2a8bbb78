/**
 * The probe makes its sealing key (KeyPair=auto) where the host's own reading of the rule says a component
 * needs a delivery; the function decides by shared/token-rules.ts `decide`. The scripts' reading and the
 * function's must agree on every token state, a registration file waiting or not, and on clock skew
 * between host and function (a lagging host clock reads like a longer grace period): here each real
 * script (bash, and PowerShell where pwsh is installed) is run on simulated hosts and compared with
 * `decide` at the host's own clock. Disagreement costs only a round (the function prepares a host that
 * made no key) or an unused key; the reconcile tests show both.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_WINDOWS_INSTALL_DIR, DEFAULT_WINDOWS_SERVICE_NAME } from '../../shared/catalog.ts';
import { linuxScript, windowsScript } from '../../shared/documents/ssm-documents.ts';
import { parseProbeOutput } from '../../shared/host-report.ts';
import { decide } from '../../shared/token-rules.ts';
import { pwshGate } from '../proving-ground/hosts/pwsh.ts';
import { type Ground, startGround } from '../proving-ground/testing.ts';

const STATES = ['valid', 'expiring', 'in-grace', 'expired', 'missing', 'garbage'] as const;
/** A scenario's grace period; the skew cases read a host clock 90 s behind as a grace 90 s longer. */
const GRACE = 120;
const LIFETIME = 600;

/** Hosts whose clock the skew test reads as 90 s behind and 90 s ahead of the function's. */
const BEHIND = 'i-0a1b2c3d4e5f6c001';
const AHEAD = 'i-0a1b2c3d4e5f6c002';

const id = (platform: 'L' | 'W', state: number, waiting: boolean) =>
  `i-0a1b2c3d4e5f6${platform === 'L' ? 'a' : 'b'}${waiting ? 1 : 0}${state.toString(16).padStart(2, '0')}`;

interface Case {
  readonly id: string;
  readonly state: (typeof STATES)[number];
  readonly waiting: boolean;
}

const cases = (platform: 'L' | 'W'): Case[] =>
  STATES.flatMap((state, i) =>
    [false, true].map((waiting) => ({ id: id(platform, i, waiting), state, waiting })),
  );

/** Whether the probe made a key, and whether the function's rule at the host's clock says deliver. */
async function judge(
  c: Case,
  run: (id: string, graceSeconds: number) => Promise<string>,
  graceSeconds: number,
): Promise<{ key: boolean; deliver: boolean }> {
  const parsed = parseProbeOutput(await run(c.id, graceSeconds));
  if (!parsed.ok) throw new Error(`${c.id}: ${parsed.problem}`);
  const { components, hostEpochSeconds, sealingKey } = parsed.value;
  const policy = { gracePeriodSeconds: graceSeconds, stuckAfterSeconds: 10 * 60 };
  const deliver = components.some((s) => decide(s, hostEpochSeconds, policy).action === 'deliver');
  expect(components.length, `${c.id} showed its component`).toBe(1);
  return { key: sealingKey?.kind === 'ready', deliver };
}

describe('the probe makes a key exactly where the function would deliver', () => {
  describe('on Linux (bash)', () => {
    let ground: Ground;
    beforeAll(async () => {
      ground = await startGround({
        kasm: { heartbeatSeconds: 1, gracePeriodSeconds: GRACE, tokenLifetimeSeconds: LIFETIME },
        hosts: [
          ...cases('L').map((c) => ({ id: c.id, components: { agent: { token: c.state, running: false } } })),
          ...[BEHIND, AHEAD].map((skewed) => ({
            id: skewed,
            components: { agent: { token: 'valid', running: false } },
          })),
        ],
      });
      for (const c of cases('L')) {
        if (c.waiting) await ground.fleet.placeRegistrationFile(c.id, 'agent', 'waiting-token\n');
      }
    }, 120_000);
    afterAll(async () => {
      await ground?.close();
    });

    const probe = async (instanceId: string, graceSeconds: number) => {
      const result = await ground.fleet.runStep({
        instanceId,
        action: 'aws:runShellScript',
        script: linuxScript('probe'),
        env: {
          AWS_SSM_INSTANCE_ID: instanceId,
          SSM_InstallRoot: '/opt/kasm/current',
          SSM_RunId: `run-rule-${graceSeconds}`,
          SSM_KeyPair: 'auto',
          SSM_GraceSeconds: String(graceSeconds),
        },
        timeoutSeconds: 60,
      });
      return result.stdout;
    };

    it('agrees on every token state, a file waiting or not', async () => {
      // Act
      const verdicts = await Promise.all(cases('L').map((c) => judge(c, probe, GRACE)));

      // Assess
      const table = cases('L').map((c, i) => [c.state, c.waiting, verdicts[i]?.key, verdicts[i]?.deliver]);
      for (const [state, waiting, key, deliver] of table)
        expect(key, `${state} waiting=${waiting}`).toBe(deliver);
      // The comparison means something: only the expired token without a waiting file is locked out.
      expect(table.filter(([, , key]) => key).map(([state, waiting]) => [state, waiting])).toStrictEqual([
        ['expired', false],
      ]);
    }, 120_000);

    it('disagrees only within the skew, each way at no cost but a round or an unused key', async () => {
      // Prepare: tokens that expired 150 s and 60 s ago (grace 120 s); a host clock 90 s behind reads like a
      // grace of 210 s, one 90 s ahead like a grace of 30 s
      const policy = { gracePeriodSeconds: GRACE, stuckAfterSeconds: 600 };
      const functionSays = async (instanceId: string) => {
        const parsed = parseProbeOutput(await probe(instanceId, GRACE));
        if (!parsed.ok) throw new Error(parsed.problem);
        return parsed.value.components.map((c) => decide(c, Math.floor(Date.now() / 1000), policy).action);
      };
      await ground.fleet.writeToken(BEHIND, 'agent', await ground.api.mintToken('agent', -150));
      await ground.fleet.writeToken(AHEAD, 'agent', await ground.api.mintToken('agent', -60));

      // Act
      const lagging = parseProbeOutput(await probe(BEHIND, GRACE + 90));
      const leading = parseProbeOutput(await probe(AHEAD, GRACE - 90));

      // Assess: behind, the host made no key where the function delivers (prepare probes it again);
      // ahead, it made one the function leaves unused (the component is in grace by the function's clock)
      expect(lagging.ok && lagging.value.sealingKey).toBe(null);
      expect(await functionSays(BEHIND)).toStrictEqual(['deliver']);
      expect(leading.ok && leading.value.sealingKey?.kind).toBe('ready');
      expect(await functionSays(AHEAD)).toStrictEqual(['none']);
    }, 120_000);
  });

  const gate = pwshGate();
  describe.skipIf(gate.skip)(`on Windows (PowerShell)${gate.label}`, () => {
    let ground: Ground;
    beforeAll(async () => {
      ground = await startGround({
        kasm: { heartbeatSeconds: 1, gracePeriodSeconds: GRACE, tokenLifetimeSeconds: LIFETIME },
        hosts: cases('W').map((c) => ({
          id: c.id,
          platform: 'Windows',
          components: { windows: { token: c.state, running: false } },
        })),
      });
      for (const c of cases('W')) {
        if (c.waiting) await ground.fleet.placeRegistrationFile(c.id, 'windows', 'waiting-token\n');
      }
    }, 120_000);
    afterAll(async () => {
      await ground?.close();
    });

    const probe = async (instanceId: string, graceSeconds: number) => {
      const result = await ground.fleet.runStep({
        instanceId,
        action: 'aws:runPowerShellScript',
        script: windowsScript('probe'),
        env: {
          AWS_SSM_INSTANCE_ID: instanceId,
          SSM_RunId: `run-rule-${graceSeconds}`,
          SSM_KeyPair: 'auto',
          SSM_GraceSeconds: String(graceSeconds),
          SSM_WindowsInstallDir: DEFAULT_WINDOWS_INSTALL_DIR,
          SSM_WindowsServiceName: DEFAULT_WINDOWS_SERVICE_NAME,
        },
        timeoutSeconds: 120,
      });
      return result.stdout;
    };

    it('agrees on every token state, a file waiting (not yet delivered by a push) or not', async () => {
      // Act: one host at a time, as PowerShell starts are heavy
      const verdicts: { key: boolean; deliver: boolean }[] = [];
      for (const c of cases('W')) verdicts.push(await judge(c, probe, GRACE));

      // Assess
      const table = cases('W').map((c, i) => [c.state, c.waiting, verdicts[i]?.key, verdicts[i]?.deliver]);
      for (const [state, waiting, key, deliver] of table)
        expect(key, `${state} waiting=${waiting}`).toBe(deliver);
      // The Windows agent reads a waiting file only at start: an expired token needs a push either way.
      expect(table.filter(([, , key]) => key).map(([state, waiting]) => [state, waiting])).toStrictEqual([
        ['expired', false],
        ['expired', true],
      ]);
    }, 300_000);
  });
});
