/**
 * `last-run` reading a report back from the function's logs, with a scripted CloudWatch Logs
 * client: the latest report, page after page, and a large report put back together from its
 * host parts (lambda/report-log.ts writes them). The proving ground's Logs is tested with the
 * same function in test/proving-ground/aws/lambda-and-logs.test.ts.
 */
import type { FilteredLogEvent } from '@aws-sdk/client-cloudwatch-logs';
import { describe, expect, it } from 'vitest';
import { lastRunReport, NoRunFound } from '../../infra/ops/last-run.ts';
import { FakeOpsClients } from './fake-ops-clients.ts';

const NOW = Date.parse('2026-11-30T12:00:00.000Z');
const HEADS = '{ $.message = "run report" }';

/** A report's head line; `lineRunId` null: a line without its own runId field. */
const head = (runId: string, extra: Record<string, unknown> = {}, lineRunId: string | null = runId) =>
  JSON.stringify({
    message: 'run report',
    ...(lineRunId === null ? {} : { runId: lineRunId }),
    report: { summary: `summary of ${runId}`, ok: true, runId, hosts: [], ...extra },
  });

const part = (runId: string, n: number, ...ids: string[]) =>
  JSON.stringify({
    message: 'run report hosts',
    runId,
    part: n,
    hosts: ids.map((instanceId) => ({ instanceId, components: [] })),
  });

/**
 * A log group answering FilterLogEvents for the report heads and for host parts, each as a
 * list of pages (a page per entry, a nextToken between them; null: a page without events,
 * which CloudWatch Logs may answer while it searches).
 */
type Page = FilteredLogEvent[] | null;
function logGroup(heads: Page[], parts: Page[] = []) {
  const clients = new FakeOpsClients({
    FilterLogEvents: (input) => {
      const pages = input.filterPattern === HEADS ? heads : parts;
      const index = input.nextToken === undefined ? 0 : Number(input.nextToken);
      const next = index + 1 < pages.length ? String(index + 1) : undefined;
      const events = pages[index];
      return { ...(events ? { events } : {}), ...(next ? { nextToken: next } : {}) };
    },
  });
  return { clients, logs: clients.factory({ region: 'eu-west-1' }).logs };
}

describe('lastRunReport', () => {
  it('takes the latest report over every page, from the period asked for', async () => {
    // Prepare
    const { clients, logs } = logGroup([
      [{ timestamp: NOW - 3000, message: head('a') }],
      null,
      [
        { timestamp: NOW - 1000, message: head('c') },
        { timestamp: NOW - 2000, message: head('b') },
      ],
    ]);

    // Act
    const report = await lastRunReport(logs, 'group', { sinceHours: 2, now: NOW });

    // Assess
    expect(report).toStrictEqual({ summary: 'summary of c', ok: true, runId: 'c', hosts: [] });
    expect(clients.inputs('FilterLogEvents')).toStrictEqual([
      { logGroupName: 'group', filterPattern: HEADS, startTime: NOW - 2 * 3_600_000 },
      { logGroupName: 'group', filterPattern: HEADS, startTime: NOW - 2 * 3_600_000, nextToken: '1' },
      { logGroupName: 'group', filterPattern: HEADS, startTime: NOW - 2 * 3_600_000, nextToken: '2' },
    ]);
  });

  it('takes the later of two reports logged in the same millisecond, and one without a time only when alone', async () => {
    // Prepare
    const same = logGroup([
      [
        { timestamp: NOW - 1000, message: head('first') },
        { timestamp: NOW - 1000, message: head('second') },
        { message: head('untimed') },
      ],
    ]);
    const alone = logGroup([[{ message: head('untimed') }]]);

    // Act
    const fromSame = await lastRunReport(same.logs, 'group', { sinceHours: 1, now: NOW });
    const fromAlone = await lastRunReport(alone.logs, 'group', { sinceHours: 1, now: NOW });

    // Assess
    expect(fromSame.runId).toBe('second');
    expect(fromAlone.runId).toBe('untimed');
  });

  it('says there is no run when the period holds no report, or the latest event carries no message', async () => {
    // Prepare
    const empty = logGroup([[], null]);
    const blank = logGroup([[{ timestamp: NOW - 1000 }]]);

    // Act
    const none = lastRunReport(empty.logs, 'group', { sinceHours: 3, now: NOW });
    const noMessage = lastRunReport(blank.logs, 'group', { sinceHours: 3, now: NOW });

    // Assess
    await expect(none).rejects.toThrow(NoRunFound);
    await expect(none).rejects.toThrow(
      'No run report in group in the last 3 hours (try --since with more hours).',
    );
    await expect(noMessage).rejects.toThrow(NoRunFound);
  });

  it('puts a report logged in parts back together, in part order, reading parts from a minute before its head', async () => {
    // Prepare: the parts arrive out of order and over two pages
    const { clients, logs } = logGroup(
      [[{ timestamp: NOW - 5000, message: head('big', { hostParts: 3 }) }]],
      [
        [{ message: part('big', 3, 'i-5') }, { message: part('big', 1, 'i-1', 'i-2') }],
        [{ message: part('big', 2, 'i-3', 'i-4') }],
      ],
    );

    // Act
    const report = await lastRunReport(logs, 'group', { sinceHours: 1, now: NOW });

    // Assess
    expect(report.hosts.map((h) => h.instanceId)).toStrictEqual(['i-1', 'i-2', 'i-3', 'i-4', 'i-5']);
    expect('hostParts' in report).toBe(false);
    expect(clients.inputs('FilterLogEvents').slice(1)).toStrictEqual([
      {
        logGroupName: 'group',
        filterPattern: '{ $.message = "run report hosts" && $.runId = "big" }',
        startTime: NOW - 5000 - 60_000,
      },
      {
        logGroupName: 'group',
        filterPattern: '{ $.message = "run report hosts" && $.runId = "big" }',
        startTime: NOW - 5000 - 60_000,
        nextToken: '1',
      },
    ]);
  });

  it("finds the parts by the report's own run id when the line has none, from a minute before now when the head has no time", async () => {
    // Prepare
    const { clients, logs } = logGroup(
      [[{ message: head('r9', { hostParts: 1 }, null) }]],
      [[{ message: part('r9', 1, 'i-9') }]],
    );

    // Act
    const report = await lastRunReport(logs, 'group', { sinceHours: 1, now: NOW });

    // Assess
    expect(report.hosts.map((h) => h.instanceId)).toStrictEqual(['i-9']);
    expect(clients.inputs('FilterLogEvents')[1]).toMatchObject({
      filterPattern: '{ $.message = "run report hosts" && $.runId = "r9" }',
      startTime: NOW - 60_000,
    });
  });

  it('names the first host part missing from the log', async () => {
    // Prepare: part 2 of 3 never arrived; an event without a message counts as no part
    const { logs } = logGroup(
      [[{ timestamp: NOW - 5000, message: head('big', { hostParts: 3 }) }]],
      [[{ message: part('big', 1, 'i-1') }, { message: part('big', 3, 'i-3') }, {}]],
    );

    // Act
    const read = lastRunReport(logs, 'group', { sinceHours: 1, now: NOW });

    // Assess
    await expect(read).rejects.toThrow(NoRunFound);
    await expect(read).rejects.toThrow('Run big: host part 2 of 3 is missing from the log.');
  });
});
