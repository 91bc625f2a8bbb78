/** The plan step on its own: which hosts it settles and which it plans a delivery for. */
import { describe, expect, it } from 'vitest';
import { observe } from '../../lambda/steps/observe.ts';
import { plan } from '../../lambda/steps/plan.ts';
import { ID, loopSetup } from './loop-fixture.ts';

describe('plan', () => {
  it('plans a host whose every component needs a delivery without settling any of it', async () => {
    // Prepare: what the probe saw of a host with both tokens expired
    const { fleet, ctx, expired } = loopSetup();
    fleet.add(ID(1), { agent: { token: expired() }, guac: { token: expired() } });
    const node = (await fleet.listFleet()).nodes[0];
    if (!node) throw new Error('no node listed');
    const observed = await observe([node], ctx());

    // Act
    const planned = plan(observed, {
      policy: { gracePeriodSeconds: 60, stuckAfterSeconds: 300 },
      dryRun: false,
      secretUsable: true,
      kasmApi: 'healthy',
    });

    // Assess
    expect(planned).toStrictEqual({
      settled: [],
      deliveries: [{ node, components: ['agent', 'guac'], report: observed.probed[0]?.report }],
    });
  });
});
