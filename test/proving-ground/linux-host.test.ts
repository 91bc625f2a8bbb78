import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Ground, mountsMentioning, processesMatching, startGround } from './testing.ts';
import type { StepRun } from './types.ts';

const A = 'i-0aaaaaaaaaaaaaaaa';
const B = 'i-0bbbbbbbbbbbbbbbb';
const NO_OPENSSL = 'i-0cccccccccccccccc';
const READ_ONLY = 'mi-0dddddddddddddddd';

const step = (instanceId: string, script: string, extra: Partial<StepRun> = {}): StepRun => ({
  instanceId,
  action: 'aws:runShellScript',
  script,
  env: { AWS_SSM_INSTANCE_ID: instanceId, AWS_SSM_REGION_NAME: 'eu-west-1' },
  timeoutSeconds: 60,
  ...extra,
});

describe('a step on a simulated Linux host', () => {
  let ground: Ground;
  beforeAll(async () => {
    ground = await startGround({
      kasm: { heartbeatSeconds: 1 },
      hosts: [
        { id: A, components: { agent: { token: 'valid' }, guac: { token: 'expired', running: false } } },
        { id: B, components: { agent: { token: 'valid' } } },
        { id: NO_OPENSSL, opensslMissing: true, components: { agent: { token: 'valid' } } },
        {
          id: READ_ONLY,
          components: { agent: { token: 'valid' }, rdp_gateway: { token: 'expired', readOnly: true } },
        },
      ],
    });
  });
  afterAll(async () => {
    await ground?.close();
  });

  it('runs the script unmodified with sh, as root, in the SSM work directory, with only the given environment plus PATH and HOME', async () => {
    // Prepare
    const script = [
      'echo "shell=$(readlink /proc/$$/exe) uid=$(id -u)"',
      'echo "script=$(cat _script.sh | wc -l)"',
      'echo "pwd=$PWD"',
      'env | grep -v -e "^PWD=" -e "^SHLVL=" -e "^_=" | sort',
    ].join('\n');

    // Act
    const result = await ground.fleet.runStep(
      step(A, script, { env: { AWS_SSM_INSTANCE_ID: A, SSM_Param: 'v a l' } }),
    );

    // Assess
    expect(result.exitCode).toBe(0);
    expect(result.timedOut).toBe(false);
    const lines = result.stdout.trim().split('\n');
    expect(lines[0]).toBe('shell=/usr/bin/dash uid=0');
    expect(lines[1]).toBe('script=3');
    expect(lines[2]).toMatch(
      new RegExp(`^pwd=/var/lib/amazon/ssm/${A}/document/orchestration/[0-9a-f-]{36}/awsrunShellScript$`),
    );
    expect(lines.slice(3)).toEqual([
      'AWS_SSM_INSTANCE_ID=i-0aaaaaaaaaaaaaaaa',
      'HOME=/root',
      'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      'SSM_Param=v a l',
    ]);
  });

  it('reports the exit code and stderr of the script', async () => {
    // Prepare
    const script = 'echo out; echo err >&2; exit 7';

    // Act
    const result = await ground.fleet.runStep(step(B, script));

    // Assess
    expect(result).toEqual({ exitCode: 7, stdout: 'out\n', stderr: 'err\n', timedOut: false });
  });

  it('shows two hosts running at the same time only their own files', async () => {
    // Prepare
    const script = [
      'echo "start=$(date +%s.%N)"',
      'grep server_id /opt/kasm/current/conf/app/agent/agent.app.config.yaml',
      'touch "/opt/kasm/current/conf/app/agent/marker-$AWS_SSM_INSTANCE_ID"',
      'ls /opt/kasm/current/conf/app/agent/',
      'ls /run | wc -l',
      'touch "/run/state-$AWS_SSM_INSTANCE_ID"',
      'sleep 1',
      'echo "end=$(date +%s.%N)"',
    ].join('\n');
    const serverId = (id: string) =>
      /server_id: (\S+)/.exec(readFileSync(ground.fleet.configPath(id, 'agent'), 'utf8'))?.[1];

    // Act
    const [a, b] = await Promise.all([
      ground.fleet.runStep(step(A, script)),
      ground.fleet.runStep(step(B, script)),
    ]);

    // Assess
    const time = (out: string, label: string) => Number(new RegExp(`${label}=(\\S+)`).exec(out)?.[1]);
    expect(time(a.stdout, 'start')).toBeLessThan(time(b.stdout, 'end'));
    expect(time(b.stdout, 'start')).toBeLessThan(time(a.stdout, 'end'));
    expect(a.stdout).toContain(`server_id: ${serverId(A)}`);
    expect(a.stdout).not.toContain(serverId(B));
    expect(b.stdout).toContain(`server_id: ${serverId(B)}`);
    expect(a.stdout).toContain(`marker-${A}`);
    expect(a.stdout).not.toContain(`marker-${B}`);
    expect(readdirSync(join(ground.fleet.hostRoot(A), 'opt/kasm/current/conf/app/agent')).sort()).toEqual([
      'agent.app.config.yaml',
      `marker-${A}`,
    ]);
    expect(readdirSync(join(ground.fleet.hostRoot(B), 'run'))).toContain(`state-${B}`);
    expect(readdirSync(join(ground.fleet.hostRoot(B), 'run'))).not.toContain(`state-${A}`);
  });

  it('hides the fleet directory and the real machine, and leaves nothing on the machine', async () => {
    // Prepare
    const root = ground.fleet.rootDir;
    const script = `test -e ${root} && echo fleet-visible; echo x > /tmp/host-tmp-file; ls /tmp; mount | grep -c ' /opt/kasm ' ; sleep 1.987`;

    // Act: look at the machine's mounts while the step is certainly running
    const running = ground.fleet.runStep(step(A, script));
    await expect.poll(() => processesMatching('sleep 1.987').length, { timeout: 10_000 }).toBeGreaterThan(0);
    const mountsDuring = mountsMentioning('/opt/kasm');
    const result = await running;

    // Assess
    expect(result.stdout).toBe('host-tmp-file\n1\n');
    expect(mountsDuring).toEqual([]);
    expect(existsSync('/opt/kasm')).toBe(false);
    expect(existsSync('/var/lib/kasm-token-reconciler')).toBe(false);
    expect(existsSync('/tmp/host-tmp-file')).toBe(false);
    expect(existsSync(join(ground.fleet.hostRoot(A), 'tmp/host-tmp-file'))).toBe(true);
  });

  it('gives the product a root-owned /run of its own and Kasm configs owned by the kasm user', async () => {
    // Prepare
    const script = [
      'stat -c "%a %u:%g %n" /run',
      'stat -L -c "%a %u:%g %n" /opt/kasm/current/conf/app/agent /opt/kasm/current/conf/app/agent/agent.app.config.yaml',
      'readlink /opt/kasm/current',
    ].join('\n');

    // Act
    const result = await ground.fleet.runStep(step(B, script));

    // Assess
    expect(result.stdout.trim().split('\n')).toEqual([
      '755 0:0 /run',
      '755 1000:1000 /opt/kasm/current/conf/app/agent',
      '640 1000:1000 /opt/kasm/current/conf/app/agent/agent.app.config.yaml',
      '1.18.0',
    ]);
  });

  it('has no openssl on a host where openssl is missing, and openssl elsewhere', async () => {
    // Prepare
    const script = [
      'command -v openssl; echo "command-v=$?"', // dash answers 127 for a command it cannot find
      'openssl version >/dev/null 2>&1; echo "run=$?"',
      'bash -c "type openssl" >/dev/null 2>&1; echo "bash-type=$?"',
    ].join('\n');

    // Act
    const missing = await ground.fleet.runStep(step(NO_OPENSSL, script));
    const present = await ground.fleet.runStep(step(B, script));

    // Assess
    expect(missing.stdout).toBe('command-v=127\nrun=127\nbash-type=1\n');
    expect(present.stdout).toMatch(/^\/usr\/bin\/openssl\ncommand-v=0\nrun=0\nbash-type=0\n$/);
  });

  it('cannot write into the config directory of a read-only component, but can elsewhere', async () => {
    // Prepare
    const script = [
      'cd /opt/kasm/current/conf/app',
      'echo t > rdp_gateway/registration_token.txt; echo "ro-write=$?"',
      'cat rdp_gateway/passthrough.app.config.yaml >/dev/null; echo "ro-read=$?"',
      'echo t > agent/registration_token.txt; echo "rw-write=$?"',
      'rm agent/registration_token.txt',
    ].join('\n');

    // Act
    const result = await ground.fleet.runStep(step(READ_ONLY, script));

    // Assess
    expect(result.stdout).toBe('ro-write=2\nro-read=0\nrw-write=0\n');
    expect(result.stderr).toMatch(/Read-only file system/);
    expect(existsSync(ground.fleet.registrationFilePath(READ_ONLY, 'rdp_gateway'))).toBe(false);
  });

  it('answers docker inspect from the simulated components: running, stopped, and not installed', async () => {
    // Prepare
    const script = [
      'for c in kasm_agent kasm_guac kasm_rdp_gateway; do',
      '  docker inspect --format "{{.State.Running}}" "$c"; echo "rc=$?"',
      'done',
      'command -v docker',
    ].join('\n');

    // Act
    const before = await ground.fleet.runStep(step(A, script));
    ground.fleet.setRunning(A, 'guac', true);
    const after = await ground.fleet.runStep(
      step(A, 'docker inspect --format "{{.State.Running}}" kasm_guac'),
    );
    ground.fleet.setRunning(A, 'guac', false);

    // Assess
    expect(before.stdout).toBe('true\nrc=0\nfalse\nrc=0\nrc=1\n/usr/bin/docker\n');
    expect(before.stderr).toBe('Error: No such object: kasm_rdp_gateway\n');
    expect(after.stdout).toBe('true\n');
  });

  it('kills a step that runs past its timeout, with everything it started', async () => {
    // Prepare
    const script = '(sleep 987 &)\nsleep 988\necho never';
    const started = Date.now();

    // Act
    const result = await ground.fleet.runStep(step(B, script, { timeoutSeconds: 1 }));

    // Assess
    expect(result.timedOut).toBe(true);
    expect(result.exitCode).toBe(-1);
    expect(result.stdout).toBe('');
    expect(Date.now() - started).toBeLessThan(5000);
    expect(processesMatching('sleep 987')).toEqual([]);
    expect(processesMatching('sleep 988')).toEqual([]);
  });

  it('ends what a finished step left running in the background', async () => {
    // Prepare
    const script = 'sleep 986 >/dev/null 2>&1 &\necho started';

    // Act
    const result = await ground.fleet.runStep(step(B, script));

    // Assess: the background sleep is gone (polled briefly: the kernel reaps it asynchronously)
    expect(result.stdout).toBe('started\n');
    await expect.poll(() => processesMatching('sleep 986'), { timeout: 2000 }).toEqual([]);
  });

  it('refuses a PowerShell step on a Linux host with a clear failure', async () => {
    // Prepare
    const run = step(A, 'Get-Date', { action: 'aws:runPowerShellScript' });

    // Act
    const result = await ground.fleet.runStep(run);

    // Assess
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toContain('aws:runPowerShellScript is not supported on simulated Linux host');
  });
});

describe('the step concurrency limit', () => {
  it('runs no more steps at once than allowed', async () => {
    // Prepare
    const ids = ['i-00000001', 'i-00000002', 'i-00000003', 'i-00000004'];
    const ground = await startGround(
      { hosts: ids.map((id) => ({ id, components: { agent: { token: 'valid' } } })) },
      { maxConcurrentSteps: 2 },
    );
    const script = 'date +%s%N; sleep 0.4; date +%s%N';

    try {
      // Act
      const results = await Promise.all(ids.map((id) => ground.fleet.runStep(step(id, script))));

      // Assess
      const spans = results.map((r) => r.stdout.trim().split('\n').map(Number) as [number, number]);
      const maxOverlap = Math.max(
        ...spans.map(([start]) => spans.filter(([s, e]) => s <= start && start < e).length),
      );
      expect(maxOverlap).toBe(2);
    } finally {
      await ground.close();
    }
  });
});
