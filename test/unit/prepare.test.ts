/** The prepare step on its own: what it seals, what it settles, and when it sends nothing. */
import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { LEFT_FOR_NEXT_RUN } from '../../lambda/steps/context.ts';
import { prepare } from '../../lambda/steps/prepare.ts';
import { ID, linuxNode, loopSetup, TOKEN } from './loop-fixture.ts';

const policy = { gracePeriodSeconds: 60, stuckAfterSeconds: 300 };

describe('prepare', () => {
  it('seals to a host whose components all still need the delivery, and settles nothing of it', async () => {
    // Prepare
    const { fleet, ctx, expired } = loopSetup();
    fleet.add(ID(1), { agent: { token: expired() }, guac: { token: expired() } });

    // Act
    const prepared = await prepare(
      [{ node: linuxNode(1), components: ['agent', 'guac'] }],
      TOKEN,
      policy,
      ctx(),
    );

    // Assess
    expect(prepared.settled).toStrictEqual([]);
    expect(prepared.sealed.map((s) => [s.node.instanceId, s.components])).toStrictEqual([
      [ID(1), ['agent', 'guac']],
    ]);
    expect(fleet.runs.map((r) => [r.role, r.parameters.KeyPair])).toStrictEqual([['probe', ['create']]]);
  });

  it('sends nothing once the deadline is reached, and leaves the deliveries for the next run', async () => {
    const { fleet, ctx, expired } = loopSetup();
    fleet.add(ID(1), { agent: { token: expired() } });
    const now = Date.now();
    const prepared = await prepare(
      [{ node: linuxNode(1), components: ['agent'] }],
      TOKEN,
      policy,
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
    const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const spki = publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
    const tooLong = 'A'.repeat(300);

    // Act
    const prepared = await prepare(
      [{ node: linuxNode(1), components: ['agent'] }],
      tooLong,
      policy,
      ctx(),
      new Map([
        [
          ID(1),
          {
            hostEpochSeconds: Math.floor(Date.now() / 1000),
            canUnseal: true,
            sealingKey: { kind: 'ready' as const, spkiDerBase64: spki },
            components: [],
          },
        ],
      ]),
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
