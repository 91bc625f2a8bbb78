/** The prepare step on its own: what it seals, what it settles, and when it sends nothing. */
import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { LEFT_FOR_NEXT_RUN } from '../../lambda/steps/context.ts';
import type { Plan } from '../../lambda/steps/plan.ts';
import { prepare } from '../../lambda/steps/prepare.ts';
import type { ComponentName } from '../../shared/catalog.ts';
import type { ProbeReport } from '../../shared/host-report.ts';
import { ID, linuxNode, loopSetup } from './loop-fixture.ts';

/** What the probe showed of host n: nothing of its components (prepare does not look), and its key if any. */
function probed(spkiDerBase64?: string): ProbeReport {
  return {
    hostEpochSeconds: Math.floor(Date.now() / 1000),
    canUnseal: true,
    sealingKey: spkiDerBase64 ? { kind: 'ready', spkiDerBase64 } : null,
    components: [],
  };
}

const planOf = (...deliveries: [number, ComponentName[], ProbeReport][]): Plan => ({
  settled: [],
  deliveries: deliveries.map(([n, components, report]) => ({ node: linuxNode(n), components, report })),
});

function spki(): string {
  const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
}

describe('prepare', () => {
  it('probes again, with KeyPair=create, a planned host that made no key while observed, and seals to it', async () => {
    // Prepare
    const { fleet, ctx, expired, config } = loopSetup();
    fleet.add(ID(1), { agent: { token: expired() }, guac: { token: expired() } });

    // Act
    const prepared = await prepare(planOf([1, ['agent', 'guac'], probed()]), ctx());

    // Assess
    expect(prepared.settled).toStrictEqual([]);
    expect(prepared.sealed.map((s) => [s.node.instanceId, s.components])).toStrictEqual([
      [ID(1), ['agent', 'guac']],
    ]);
    expect(fleet.runs.map((r) => [r.role, r.parameters.KeyPair, r.parameters.GraceSeconds])).toStrictEqual([
      ['probe', ['create'], [String(config.gracePeriodSeconds)]],
    ]);
  });

  it('seals at once to a host that made its key while observed, asking nothing of it', async () => {
    // Prepare
    const { fleet, ctx } = loopSetup();

    // Act
    const prepared = await prepare(planOf([1, ['agent'], probed(spki())]), ctx());

    // Assess
    expect(prepared.sealed.map((s) => [s.node.instanceId, s.components])).toStrictEqual([[ID(1), ['agent']]]);
    expect(fleet.runs).toStrictEqual([]);
  });

  it('seals nothing and asks nothing of a host when the secret is unusable, failing the planned components with why', async () => {
    // Prepare: one host with its key, one without
    const { fleet, ctx } = loopSetup();
    const problem = 'The secret is empty.';

    // Act
    const prepared = await prepare(
      planOf([1, ['agent'], probed(spki())], [2, ['guac'], probed()]),
      ctx({ readSecret: async () => ({ ok: false, problem }) }),
    );

    // Assess
    expect(prepared.sealed).toStrictEqual([]);
    expect(prepared.settled.map((o) => [o.node.instanceId, o.components])).toStrictEqual([
      [ID(1), [{ name: 'agent', status: 'failed', reason: problem }]],
      [ID(2), [{ name: 'guac', status: 'failed', reason: problem }]],
    ]);
    expect(fleet.runs).toStrictEqual([]);
  });

  it('sends nothing once the deadline is reached, and leaves the deliveries for the next run', async () => {
    const { fleet, ctx, expired } = loopSetup();
    fleet.add(ID(1), { agent: { token: expired() } });
    const now = Date.now();
    const prepared = await prepare(
      planOf([1, ['agent'], probed()]),
      ctx({ now: () => now, deadlineAt: now }),
    );
    expect(prepared).toStrictEqual({
      sealed: [],
      settled: [
        { node: linuxNode(1), components: [{ name: 'agent', status: 'failed', reason: LEFT_FOR_NEXT_RUN }] },
      ],
    });
    expect(fleet.runs).toStrictEqual([]);
  });

  it('fails the delivery, naming no token, when sealing itself throws', async () => {
    // Prepare: a host that made its key while observed; a value too long for RSA-OAEP to seal
    const { ctx } = loopSetup();
    const tooLong = 'A'.repeat(300);

    // Act
    const prepared = await prepare(
      planOf([1, ['agent'], probed(spki())]),
      ctx({ readSecret: async () => ({ ok: true, token: tooLong }) }),
    );

    // Assess
    expect(prepared).toStrictEqual({
      sealed: [],
      settled: [
        { node: linuxNode(1), components: [{ name: 'agent', status: 'failed', reason: 'sealing failed' }] },
      ],
    });
  });
});
