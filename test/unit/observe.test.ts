/** The observe step on its own: what it asks the fleet, and what it does without hosts or time. */
import { describe, expect, it } from 'vitest';
import type { DocumentRun } from '../../lambda/fleet-api.ts';
import { LEFT_FOR_NEXT_RUN } from '../../lambda/steps/context.ts';
import { observe } from '../../lambda/steps/observe.ts';
import { componentsFor } from '../../shared/catalog.ts';
import { ID, linuxNode, loopSetup } from './loop-fixture.ts';

function setup() {
  const { fleet, ctx } = loopSetup();
  const sent: DocumentRun[] = [];
  const usual = fleet.runDocument.bind(fleet);
  fleet.runDocument = (r) => {
    sent.push(r);
    return usual(r);
  };
  return { fleet, ctx, sent, node: linuxNode };
}

describe('observe', () => {
  it('sends no command for no hosts', async () => {
    const { ctx, sent } = setup();
    const now = Date.now();
    const observed = await observe([], ctx({ now: () => now }));
    expect(observed).toStrictEqual({ probed: [], settled: [], observedAt: Math.floor(now / 1000) });
    expect(sent).toStrictEqual([]);
  });

  it('has only hosts that see a component locked out make a sealing key, and none at all in a dry run', async () => {
    // Prepare: host 1 is healthy, host 2 locked out
    const { fleet, ctx, node } = setup();
    fleet.add(ID(1), { agent: {} });
    fleet.add(ID(2), { agent: { token: fleet.nowSeconds() - 3600 } });

    // Act
    const observed = await observe([node(1), node(2)], ctx());
    const dry = await observe([node(1), node(2)], { ...ctx(), scope: 'dry-run' });

    // Assess
    expect(fleet.runs.map((r) => r.parameters.KeyPair)).toStrictEqual([['auto'], ['none']]);
    const keys = (o: typeof observed) =>
      o.probed.map((s) => [s.node.instanceId, s.report.sealingKey?.kind]).sort();
    expect(keys(observed)).toStrictEqual([
      [ID(1), undefined],
      [ID(2), 'ready'],
    ]);
    expect(keys(dry)).toStrictEqual([
      [ID(1), undefined],
      [ID(2), undefined],
    ]);
  });

  it('sends nothing once the deadline is reached, and fails every host as left for the next run', async () => {
    const { fleet, ctx, sent, node } = setup();
    fleet.add(ID(1), { agent: {} });
    const now = Date.now();
    const observed = await observe([node(1)], ctx({ now: () => now, deadlineAt: now }));
    expect(observed.probed).toStrictEqual([]);
    expect(observed.settled).toStrictEqual([
      {
        node: node(1),
        reason: LEFT_FOR_NEXT_RUN,
        components: componentsFor('Linux').map((c) => ({
          name: c.name,
          status: 'failed',
          reason: LEFT_FOR_NEXT_RUN,
        })),
      },
    ]);
    expect(sent).toStrictEqual([]);
  });
});
