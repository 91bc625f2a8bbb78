import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseArgs, UsageError } from '../../infra/ops/args.ts';
import { formatElapsed, withElapsed } from '../../infra/ops/elapsed.ts';
import { renderReport } from '../../infra/ops/render.ts';
import { resolveTarget } from '../../infra/ops/target.ts';

describe('parseArgs', () => {
  it('builds the event the function accepts from --dry-run and repeated --instance', () => {
    expect(
      parseArgs([
        'invoke',
        '--env',
        'prod',
        '--dry-run',
        '--instance',
        'i-0123456789abcdef0',
        '--instance',
        'mi-0123456789abcdef0',
      ]),
    ).toStrictEqual({
      name: 'invoke',
      env: 'prod',
      json: false,
      event: { dryRun: true, instanceIds: ['i-0123456789abcdef0', 'mi-0123456789abcdef0'] },
    });
    expect(parseArgs(['invoke', '--env', 'dev', '--json'])).toMatchObject({ event: {}, json: true });
    expect(parseArgs(['last-run', '--env', 'dev', '--since', '6'])).toStrictEqual({
      name: 'last-run',
      env: 'dev',
      sinceHours: 6,
      json: false,
    });
  });

  it.each([
    [[], 'a command is required'],
    [['deploy', '--env', 'x'], 'unknown command "deploy"'],
    [['invoke'], '--env NAME is required'],
    [['invoke', '--env'], '--env needs a value'],
    [['invoke', '--env', 'prod', '--since', '3'], 'unexpected argument "--since" for invoke'],
    [['last-run', '--env', 'prod', '--since', 'soon'], '--since takes a number of hours'],
    [['invoke', '--env', 'prod_eu'], '--env "prod_eu" is not an environment name'],
    [['invoke', '--env', 'prod', '--instance', 'web-1'], 'Invalid event: instanceIds[0]: expected an EC2 id'],
  ])('rejects %j with a usage error saying %s', (argv, message) => {
    expect(() => parseArgs(argv)).toThrow(UsageError);
    expect(() => parseArgs(argv)).toThrow(message);
  });
});

describe('resolveTarget', () => {
  it('names the function by the stack convention and takes the region cdk.json gives the environment', () => {
    expect(resolveTarget('prod')).toMatchObject({
      functionName: 'KasmTokenReconciler-prod',
      region: 'eu-west-1',
      known: ['dev', 'prod'],
    });
    expect(resolveTarget('dev').region).toBeUndefined();
  });

  it('still names the function when cdk.json defines no environments, or cannot be read', () => {
    // Prepare
    const dir = mkdtempSync(join(tmpdir(), 'ops-target-'));
    const bare = join(dir, 'cdk.json');
    writeFileSync(bare, JSON.stringify({ app: 'npx tsx infra/app.ts' }));
    const broken = join(dir, 'broken.json');
    writeFileSync(broken, '{ "context": ');

    try {
      // Act & Assess
      for (const path of [bare, broken, join(dir, 'missing.json')]) {
        expect(resolveTarget('prod', path)).toStrictEqual({
          env: 'prod',
          functionName: 'KasmTokenReconciler-prod',
          known: [],
        });
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('withElapsed', () => {
  it('rewrites one line with the elapsed time on a terminal and ends it with the total', async () => {
    const written: string[] = [];
    let clock = 0;
    const result = await withElapsed(
      { isTTY: true, write: (t: string) => written.push(t) },
      'run in progress',
      async () => {
        clock = 65_000;
        await new Promise((r) => setTimeout(r, 30));
        return 42;
      },
      { now: () => clock, intervalMs: 10 },
    );
    expect(result).toBe(42);
    expect(written[0]).toBe('\r\x1b[2Krun in progress… 0s');
    expect(written).toContain('\r\x1b[2Krun in progress… 1m 05s');
    expect(written.at(-1)).toBe('\r\x1b[2Krun in progress: done in 1m 05s\n');
  });

  it('writes one plain line and nothing else when not on a terminal', async () => {
    const written: string[] = [];
    await withElapsed(
      { isTTY: false, write: (t: string) => written.push(t) },
      'run in progress',
      async () => 1,
    );
    expect(written).toStrictEqual(['run in progress…\n']);
    expect(formatElapsed(9_999)).toBe('9s');
  });
});

describe('renderReport', () => {
  it('says what a component was before the run, what it is now and what a person must do', () => {
    const text = renderReport(
      {
        summary: '1 recovered, 1 stuck (i-0a1b…/guac)',
        ok: true,
        dryRun: false,
        runId: 'r1',
        trigger: 'direct',
        startedAt: '2026-11-30T07:00:00.000Z',
        durationMs: 5321,
        kasmApi: 'healthy',
        totals: { recovered: 1, stuck: 1 },
        hosts: [
          {
            instanceId: 'i-0a1b2c3d4e5f60718',
            components: [
              { name: 'agent', status: 'recovered', tokenExpiresAt: '2026-11-30T08:00:00.000Z' },
              { name: 'guac', status: 'stuck', tokenExpiresAt: '2026-11-29T08:00:00.000Z' },
            ],
          },
        ],
        errors: [],
      },
      Date.parse('2026-11-30T07:30:00.000Z'),
    );
    expect(text.split('\n').slice(0, 6)).toStrictEqual([
      '1 recovered, 1 stuck (i-0a1b…/guac)',
      '',
      'host                 component  before                      after      token now',
      '-------------------  ---------  --------------------------  ---------  --------------------------------------',
      'i-0a1b2c3d4e5f60718  agent      LOCKED OUT (past grace)     recovered  valid until 2026-11-30T08:00:00.000Z',
      'i-0a1b2c3d4e5f60718  guac       token file waiting, unread  stuck      EXPIRED since 2026-11-29T08:00:00.000Z',
    ]);
    expect(text).toContain(
      'run r1 (direct) started 2026-11-30T07:00:00.000Z, took 5.3 s; Kasm API: healthy; ok: true',
    );
    expect(text).toContain('  i-0a1b2c3d4e5f60718/guac (stuck): check the component is running (restart it)');
  });
});

describe('renderReport, reports with less in them', () => {
  const base = {
    ok: false,
    dryRun: true,
    runId: 'r2',
    startedAt: '2026-11-30T07:00:00.000Z',
    durationMs: 800,
    kasmApi: 'unhealthy',
    totals: {},
    errors: [],
  };

  it('says when no host was reconciled, and what an old function without a summary or trigger logged', () => {
    // Act
    const text = renderReport({ ...base, hosts: [], errors: ['The secret is gone.', 'Kasm: HTTP 502'] }, 0);

    // Assess
    expect(text.split('\n')).toStrictEqual([
      '(this report has no summary: the function predates it)',
      '',
      'No fleet hosts were reconciled.',
      '',
      'totals: {}',
      'dry run r2 started 2026-11-30T07:00:00.000Z, took 0.8 s; Kasm API: unhealthy; ok: false',
      'error: The secret is gone.',
      'error: Kasm: HTTP 502',
      '',
    ]);
  });

  it('shows a host not examined, a host without components, reasons, unknown statuses and missing tokens', () => {
    // Act
    const text = renderReport(
      {
        ...base,
        summary: 's',
        hosts: [
          { instanceId: 'i-1', reason: 'agent offline', components: [] },
          { instanceId: 'i-2', components: [] },
          {
            instanceId: 'i-3',
            components: [
              { name: 'agent', status: 'failed', reason: 'read-only config directory' },
              { name: 'guac', status: 'brand-new-status' },
              { name: 'rdp_gateway', status: 'healthy', tokenExpiresAt: '2026-11-30T08:00:00.000Z' },
            ],
          },
        ],
      },
      Date.parse('2026-11-30T07:30:00.000Z'),
    );

    // Assess
    const rows = text.split('\n').slice(2, 9);
    expect(rows.map((r) => r.split(/ {2,}/))).toStrictEqual([
      ['host', 'component', 'before', 'after', 'token now'],
      Array(5).fill(expect.stringMatching(/^-+$/)),
      ['i-1', '-', '-', 'not examined: agent offline', '-'],
      ['i-2', '-', '-', 'no components', '-'],
      ['i-3', 'agent', 'unknown', 'failed (read-only config directory)', '-'],
      ['i-3', 'guac', '?', 'brand-new-status', '-'],
      ['i-3', 'rdp_gateway', 'token valid', 'healthy', 'valid until 2026-11-30T08:00:00.000Z'],
    ]);
    // Only the failed component needs a person; an unknown status asks for nothing.
    expect(text.split('Needs a person (README.md, "Runbook"):\n')[1]).toBe(
      '  i-3/agent (failed): fix what the reason says, then invoke again for this instance\n',
    );
  });
});
