import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { HELP, parseArgs, USAGE, UsageError } from '../../infra/ops/args.ts';
import { formatElapsed, withElapsed } from '../../infra/ops/elapsed.ts';
import { EXIT, exitCodeOf, notReconciled, unreachableRequested } from '../../infra/ops/exit-codes.ts';
import { fitColumns, MIN_COLUMN } from '../../infra/ops/fit-columns.ts';
import { type Report, renderReport } from '../../infra/ops/render.ts';
import { describeProgress, ourRun, type RunLogLine } from '../../infra/ops/run-progress.ts';
import { resolveTarget } from '../../infra/ops/target.ts';
import { textTable } from '../../shared/text-table.ts';

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
      wide: false,
      event: { dryRun: true, instanceIds: ['i-0123456789abcdef0', 'mi-0123456789abcdef0'] },
    });
    expect(parseArgs(['invoke', '--env', 'dev', '--json'])).toMatchObject({ event: {}, json: true });
    expect(parseArgs(['last-run', '--env', 'dev', '--since', '6'])).toStrictEqual({
      name: 'last-run',
      env: 'dev',
      sinceHours: 6,
      json: false,
      wide: false,
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
    [['invoke', '--env', 'a', '--env', 'b'], '--env is given more than once; give it once'],
    [['last-run', '--env', 'prod', '--since', '1', '--since', '2'], '--since is given more than once'],
    [['preflight', '--env', 'prod', '--json', '--json'], '--json is given more than once'],
    [['help', 'invoke', 'last-run'], 'unexpected argument "last-run" for help'],
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
      { now: Date.parse('2026-11-30T07:30:00.000Z') },
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

describe('renderReport, hostile text', () => {
  it('shows control characters a host slipped into a reason as visible escapes, never raw to the terminal', () => {
    // Act
    const text = renderReport({
      summary: '1 failed',
      ok: true,
      dryRun: false,
      runId: 'r3',
      startedAt: '2026-11-30T07:00:00.000Z',
      durationMs: 1000,
      kasmApi: 'healthy',
      totals: { failed: 1 },
      hosts: [
        {
          instanceId: 'i-0a1b2c3d4e5f60718',
          components: [
            { name: 'agent', status: 'failed', reason: 'bad \u001b[2J\u001b]0;owned\u0007 output' },
          ],
        },
      ],
      errors: ['host said \u009b31m'],
    });

    // Assess
    // biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
    expect(text).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/);
    expect(text).toContain('bad \\u{1b}[2J\\u{1b}]0;owned\\u{7} output');
    expect(text).toContain('error: host said \\u{9b}31m');
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
    const text = renderReport(
      { ...base, hosts: [], errors: ['The secret is gone.', 'Kasm: HTTP 502'] },
      { now: 0 },
    );

    // Assess
    expect(text.split('\n')).toStrictEqual([
      '(this report has no summary: the function predates it)',
      '',
      'No fleet hosts were reconciled.',
      '',
      'components: none',
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
      { now: Date.parse('2026-11-30T07:30:00.000Z') },
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
    expect(text.split('Needs a person (docs/operating.md, "Runbook"):\n')[1]).toBe(
      '  i-3/agent (failed: read-only config directory): fix what the reason says, then invoke again for this instance\n',
    );
  });
});

describe('parseArgs: help, region and profile', () => {
  it.each([
    [['--help'], USAGE],
    [['-h'], USAGE],
    [['help'], USAGE],
    [['help', 'invoke'], HELP.invoke],
    [['invoke', '--help'], HELP.invoke],
    [['invoke', '--env', 'prod', '-h'], HELP.invoke],
    [['last-run', '--help'], HELP['last-run']],
    [['help', 'preflight'], HELP.preflight],
    [['preflight', '-h'], HELP.preflight],
    [['help', '--help'], USAGE],
    [['help', '-h'], USAGE],
    [['help', 'help'], USAGE],
    [['help', 'invoke', '--help'], HELP.invoke],
  ])('answers %j with the help text', (argv, text) => {
    expect(parseArgs(argv)).toStrictEqual({ name: 'help', text });
  });

  it('lists the exit codes in the help of every command that runs something', () => {
    for (const text of [USAGE, HELP.invoke, HELP['last-run']]) {
      expect(text).toContain('3  the run did its job, but components need a person');
      expect(text).toContain('4  the run did nothing it was asked to');
    }
    expect(HELP.preflight).toContain('1  a check failed');
  });

  it('takes --region, --profile and --wide, and checks their values', () => {
    expect(
      parseArgs(['last-run', '--env', 'prod', '--region', 'us-east-1', '--profile', 'ops-admin', '--wide']),
    ).toMatchObject({ region: 'us-east-1', profile: 'ops-admin', wide: true });
    expect(() => parseArgs(['invoke', '--env', 'prod', '--region', 'Ireland'])).toThrow(
      '--region "Ireland" is not an AWS region (e.g. eu-west-1)',
    );
    expect(() => parseArgs(['invoke', '--env', 'prod', '--profile', 'a b'])).toThrow('is not a profile name');
    expect(() => parseArgs(['help', 'deploy'])).toThrow('no help for "deploy": not a command');
    expect(parseArgs(['preflight', '--env', 'prod', '--before-deploy'])).toStrictEqual({
      name: 'preflight',
      env: 'prod',
      beforeDeploy: true,
      json: false,
    });
  });
});

describe('exitCodeOf', () => {
  const report = (hosts: Report['hosts'], ok = true): Report => ({
    ok,
    dryRun: false,
    runId: 'r',
    startedAt: '2026-11-30T07:00:00.000Z',
    durationMs: 1,
    kasmApi: 'healthy',
    totals: {},
    hosts,
    errors: [],
  });
  const host = (instanceId: string, ...statuses: string[]) => ({
    instanceId,
    components: statuses.map((status) => ({ name: 'agent', status })),
  });

  it('tells apart a run that did its job, one that did not, one that needs a person and one that did nothing', () => {
    expect(exitCodeOf(report([host('i-1', 'healthy', 'recovered')]))).toBe(EXIT.ok);
    expect(exitCodeOf(report([host('i-1', 'healthy')], false))).toBe(EXIT.failed);
    expect(exitCodeOf(report([host('i-1', 'healthy'), host('i-2', 'stuck')]))).toBe(EXIT.needsPerson);
    expect(exitCodeOf(report([{ ...host('i-1', 'failed'), status: 'failed' }]))).toBe(EXIT.needsPerson);
    expect(exitCodeOf(report([]))).toBe(EXIT.nothingDone);
    // A scheduled run skipped while another run was at work on the fleet lists no hosts, by design.
    const skipped = { reason: 'run r0 is still reconciling the whole fleet', otherRunId: 'r0' };
    expect(exitCodeOf({ ...report([]), skipped })).toBe(EXIT.ok);
    // --instance of a host that is not a fleet node: the report does not list it.
    expect(exitCodeOf(report([host('i-1', 'healthy')]), ['i-1', 'i-9'])).toBe(EXIT.nothingDone);
    expect(notReconciled(report([host('i-1', 'healthy')]), ['i-1', 'i-9'])).toStrictEqual(['i-9']);
    // An offline host is not the run's failure, nor a person's job: the next run takes it.
    expect(exitCodeOf(report([{ ...host('i-1', 'unreachable'), status: 'unreachable' }]))).toBe(EXIT.ok);
    // ... but when it is the only host asked for, the run did nothing it was asked to.
    const offline = { ...host('i-1', 'unreachable'), status: 'unreachable' };
    expect(exitCodeOf(report([offline]), ['i-1'])).toBe(EXIT.nothingDone);
    expect(exitCodeOf(report([offline, host('i-2', 'healthy')]), ['i-1', 'i-2'])).toBe(EXIT.ok);
    expect(unreachableRequested(report([offline, host('i-2', 'healthy')]), ['i-1', 'i-2'])).toStrictEqual([
      'i-1',
    ]);
    expect(unreachableRequested(report([offline]), undefined)).toStrictEqual([]);
  });
});

describe('fitColumns and renderReport for a terminal', () => {
  it('narrows the shrinkable columns of a wide table to the width, marking cut cells, and never cuts the others', () => {
    // Prepare
    const rows = [
      ['host', 'after'],
      ['i-0a1b2c3d4e5f60718', `failed (${'x'.repeat(80)})`],
    ];

    // Act
    const fitted = fitColumns(rows, 40, [1]);

    // Assess
    expect(fitted[1]?.[0]).toBe('i-0a1b2c3d4e5f60718');
    expect(fitted[1]?.[1]).toMatch(/^failed \(x+…$/);
    expect(
      textTable(fitted)
        .split('\n')
        .every((line) => line.length <= 40),
    ).toBe(true);
    expect(fitColumns(rows, 10, [1])[1]?.[1]).toHaveLength(MIN_COLUMN);
  });

  it('keeps the full reason in the list of what needs a person when the table cuts it', () => {
    // Prepare
    const reason = `the config directory is read-only ${'and more '.repeat(10)}`.trim();
    const text = renderReport(
      {
        summary: 's',
        ok: true,
        dryRun: false,
        runId: 'r',
        startedAt: '2026-11-30T07:00:00.000Z',
        durationMs: 1,
        kasmApi: 'healthy',
        totals: { failed: 1 },
        hostTotals: { examined: 1, unreachable: 1 },
        hosts: [
          { instanceId: 'i-0a1b2c3d4e5f60718', components: [{ name: 'agent', status: 'failed', reason }] },
          {
            instanceId: 'i-0a1b2c3d4e5f60708',
            status: 'unreachable',
            reason: 'the host is offline (SSM PingStatus ConnectionLost)',
            components: ['agent', 'guac'].map((name) => ({ name, status: 'unreachable' })),
          },
        ],
        errors: [],
      },
      { now: 0, width: 80 },
    );

    // Assess
    const table = text.split('\n').slice(2, 6);
    expect(table.every((line) => line.length <= 80)).toBe(true);
    // The offline host is one row, not one per catalog component.
    expect(table.filter((line) => line.startsWith('i-0a1b2c3d4e5f60708'))).toHaveLength(1);
    expect(text).toContain('components: 1 failed\nhosts: 1 examined, 1 unreachable\n');
    expect(text).toContain(`  i-0a1b2c3d4e5f60718/agent (failed: ${reason}): fix what the reason says`);
  });
});

describe('what the function logs of a run, as progress', () => {
  const line = (message: string, timestamp: number, extra: Record<string, unknown> = {}): RunLogLine => ({
    message,
    timestamp,
    ...extra,
  });

  it('finds our run among others and says its step and batch', () => {
    // Prepare: a scheduled run and an older direct one beside ours
    const lines = [
      line('run started', 1000, { runId: 'old', trigger: 'direct', dryRun: false }),
      line('run started', 20_100, { runId: 'sched', trigger: 'schedule', dryRun: false }),
      line('run started', 20_200, { runId: 'ours', trigger: 'direct', dryRun: false }),
      line('inventory', 20_300, { runId: 'ours', hosts: 120, reachable: 118 }),
      line('progress', 20_400, {
        runId: 'sched',
        step: 'push',
        batchesDone: 9,
        batches: 9,
        nodesDone: 1,
        nodes: 1,
      }),
      line('progress', 20_500, {
        runId: 'ours',
        step: 'probe',
        batchesDone: 2,
        batches: 3,
        nodesDone: 100,
        nodes: 118,
      }),
    ];

    // Act
    const runId = ourRun(lines, { at: 20_000, dryRun: false });

    // Assess: the first direct run of the same kind started since we invoked (less the clock skew allowed)
    expect(runId).toBe('ours');
    expect(ourRun(lines, { at: 20_000, dryRun: true })).toBeUndefined();
    expect(describeProgress(lines, 'ours')).toBe(
      'inventory: 120 hosts, 118 online · probe: batch 2 of 3 (100 of 118 hosts)',
    );
    expect(describeProgress([], 'ours')).toBe('');
  });
});
