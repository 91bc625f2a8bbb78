/**
 * Overlapping runs: the Comment each command carries (which run, over what, which step), and a scheduled
 * run that finds, through SSM's command history, another run still at work on the whole fleet.
 */
import { describe, expect, it } from 'vitest';
import { formatComment, parseComment } from '../../lambda/command-comment.ts';
import { summarize } from '../../lambda/report-summary.ts';
import { BETWEEN_STEPS_MS, fleetRunAtWork, LONGEST_RUN_MS } from '../../lambda/steps/other-runs.ts';
import { scheduledEvent } from '../scheduled-event.ts';
import { startBatch } from '../start-events.ts';
import { ID, loopSetup, run } from './loop-fixture.ts';

const SCHEDULED = scheduledEvent();

describe('the command Comment', () => {
  it('reads back what it wrote, and nothing another tool wrote', () => {
    // Act
    const written = formatComment({ runId: 'run-7', scope: 'fleet', step: 'deliver' });

    // Assess
    expect(written).toBe('kasm-token-reconciler run-7 fleet deliver');
    expect(parseComment(written)).toStrictEqual({ runId: 'run-7', scope: 'fleet', step: 'deliver' });
    expect(parseComment('kasm-token-reconciler run-7 observe')).toBeUndefined();
    expect(parseComment('kasm-token-reconciler run-7 fleet observe extra')).toBeUndefined();
    expect(parseComment('kasm-token-reconciler run-7 everything observe')).toBeUndefined();
    expect(parseComment('kasm-token-reconciler run-7 fleet reboot')).toBeUndefined();
    expect(parseComment('patching run-7 fleet observe')).toBeUndefined();
    expect(parseComment(undefined)).toBeUndefined();
  });
});

describe('fleetRunAtWork', () => {
  const at = (comment: string, ago: number, executing: boolean, now: number) => ({
    comment,
    requestedAt: now - ago,
    executing,
  });

  it("finds another full run with a command still executing, within Lambda's longest run", async () => {
    // Prepare
    const { fleet, ctx, config } = loopSetup();
    const now = Date.now();
    fleet.otherCommands.push(
      at('kasm-token-reconciler run-1 fleet observe', 1000, true, now), // this run
      at('kasm-token-reconciler run-dry dry-run observe', 1000, true, now),
      at('kasm-token-reconciler run-start hosts deliver', 1000, true, now),
      at('someone else', 1000, true, now),
      at('kasm-token-reconciler run-old fleet deliver', 5 * 60_000, true, now),
      at('kasm-token-reconciler run-ended fleet deliver', 16 * 60_000, true, now),
    );

    // Act
    const found = await fleetRunAtWork(ctx({ now: () => now }));

    // Assess
    expect(found).toStrictEqual({ runId: 'run-old', step: 'deliver', sentAt: now - 5 * 60_000 });
    const documentNames = [config.documents.probe, config.documents.push];
    expect(fleet.historyAsked).toStrictEqual([
      { documentNames, sentAfter: now - BETWEEN_STEPS_MS, executingOnly: false },
      { documentNames, sentAfter: now - LONGEST_RUN_MS, executingOnly: true },
    ]);
  });

  it('finds another full run between two steps: its latest command finished moments ago', async () => {
    // Prepare
    const { fleet, ctx } = loopSetup();
    const now = Date.now();
    fleet.otherCommands.push(
      at('kasm-token-reconciler run-old fleet observe', 10_000, false, now),
      at('kasm-token-reconciler run-older fleet deliver', 2 * 60_000, false, now),
    );

    // Act
    const found = await fleetRunAtWork(ctx({ now: () => now }));

    // Assess
    expect(found).toStrictEqual({ runId: 'run-old', step: 'observe', sentAt: now - 10_000 });
  });

  it('finds nothing once every other run has ended', async () => {
    // Prepare
    const { fleet, ctx } = loopSetup();
    const now = Date.now();
    fleet.otherCommands.push(at('kasm-token-reconciler run-older fleet deliver', 2 * 60_000, false, now));

    // Act
    const found = await fleetRunAtWork(ctx({ now: () => now }));

    // Assess
    expect(found).toBeUndefined();
  });

  it('finds nothing, with a warning, when the history cannot be read: overlapping is safe', async () => {
    // Prepare
    const { fleet, ctx, logs } = loopSetup();
    fleet.findCommand = async () => Promise.reject(new Error('AccessDeniedException'));

    // Act
    const found = await fleetRunAtWork(ctx());

    // Assess
    expect(found).toBeUndefined();
    expect(logs).toStrictEqual([
      'reading the command history for another run at work failed {"error":"AccessDeniedException"}',
    ]);
  });
});

describe('a run while another is at work on the whole fleet', () => {
  const busy = () => {
    const setup = loopSetup();
    setup.fleet.add(ID(1), { agent: { token: setup.expired() } });
    setup.fleet.otherCommands.push({
      comment: 'kasm-token-reconciler run-old fleet deliver',
      requestedAt: Date.parse('2026-12-05T10:00:00Z'),
      executing: true,
    });
    return setup;
  };

  it('is skipped when scheduled: nothing listed, probed or pushed, and the report and summary say why', async () => {
    // Prepare
    const { fleet, deps, logs } = busy();
    let secretRead = false;

    // Act
    const report = await run(
      SCHEDULED,
      deps({
        now: () => Date.parse('2026-12-05T10:01:00Z'),
        readSecret: async () => {
          secretRead = true;
          return { ok: true, token: 'x' };
        },
      }),
    );

    // Assess
    expect(report).toMatchObject({
      ok: true,
      hosts: [],
      totals: {},
      errors: [],
      kasmApi: 'unchecked',
      startedAt: '2026-12-05T10:01:00.000Z',
      durationMs: 0,
    });
    expect(logs).toContain('run skipped {"otherRunId":"run-old","otherStep":"deliver"}');
    expect(report.skipped).toStrictEqual({
      otherRunId: 'run-old',
      reason:
        'run run-old is still reconciling the whole fleet (its deliver step, a command sent at 2026-12-05T10:00:00.000Z); ' +
        'this scheduled run changed nothing and the next one covers the fleet',
    });
    expect(summarize(report)).toBe(`Skipped: ${report.skipped?.reason}.`);
    expect(fleet.listCalls).toBe(0);
    expect(fleet.runs).toStrictEqual([]);
    expect(secretRead).toBe(false);
  });

  it.each([
    ['a direct run', {}],
    ['an instance-start run', startBatch([ID(1)])],
  ])(
    'is not skipped when it is %s: an operator or a start asked for it, and overlap is safe',
    async (_, event) => {
      // Prepare
      const { fleet, deps } = busy();

      // Act
      const report = await run(event, deps());

      // Assess
      expect(report.skipped).toBeUndefined();
      expect(report.hosts[0]?.components[0]?.status).toBe('recovered');
      expect(fleet.historyAsked).toStrictEqual([]);
    },
  );

  it('tells other runs through its own commands what it covers', async () => {
    // Prepare
    // Prepare: host 2's clock lags two hours, so it makes no key while observed and is prepared apart
    const { fleet, deps, expired } = busy();
    fleet.otherCommands.length = 0;
    fleet.add(ID(2), { agent: { token: expired() } }, { clockSkewSeconds: -7200 });

    // Act
    await run(SCHEDULED, deps());
    await run({ dryRun: true }, deps({ runId: 'run-2' }));
    await run({ instanceIds: [ID(1)] }, deps({ runId: 'run-3' }));

    // Assess
    expect(fleet.runs.map((r) => formatComment(r.comment))).toStrictEqual([
      'kasm-token-reconciler run-1 fleet observe',
      'kasm-token-reconciler run-1 fleet prepare',
      'kasm-token-reconciler run-1 fleet deliver',
      'kasm-token-reconciler run-2 dry-run observe',
      'kasm-token-reconciler run-3 hosts observe',
    ]);
  });
});
