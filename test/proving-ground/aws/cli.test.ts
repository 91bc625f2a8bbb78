import { execFile, spawnSync } from 'node:child_process';
import { realpathSync } from 'node:fs';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import type { AwsServer } from './server.ts';
import { ec2Id, hybridId, node, REGION, ShellFleet, startTestServer, TAG } from './testkit.ts';

const run = promisify(execFile);
const SCRIPT = new URL('./cli-check.sh', import.meta.url).pathname;

/** Every distinct AWS CLI on this machine: `aws` on PATH (pyenv's v1 here) and Debian's /usr/bin/aws (v2). */
function clis(): { label: string; path: string }[] {
  const found: { label: string; path: string }[] = [];
  for (const candidate of ['aws', '/usr/bin/aws']) {
    const version = spawnSync(candidate, ['--version'], { encoding: 'utf8' });
    if (version.status !== 0) continue;
    const which = candidate.includes('/')
      ? candidate
      : spawnSync('sh', ['-c', `command -v ${candidate}`])
          .stdout.toString()
          .trim();
    let real = which;
    try {
      real = realpathSync(which);
    } catch {
      // keep the unresolved path
    }
    if (found.some((f) => f.path === real)) continue;
    found.push({
      label: `${version.stdout}${version.stderr}`.trim().split(' ')[0] ?? candidate,
      path: candidate,
    });
  }
  return found;
}

const available = clis();

const servers: AwsServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

describe('the AWS CLI against the proving ground', () => {
  if (available.length === 0)
    it.skip('runs cli-check.sh end to end (no AWS CLI on this machine)', () => undefined);

  for (const cli of available) {
    it(`runs cli-check.sh end to end with ${cli.label}`, async () => {
      // Prepare
      const nodes = [
        node(ec2Id(1), { online: false }),
        ...Array.from({ length: 11 }, (_, i) => node(i % 3 === 0 ? hybridId(i + 2) : ec2Id(i + 2))),
        node(ec2Id(99), { tags: { Name: 'not-managed' } }),
      ];
      const fleet = new ShellFleet(nodes);
      const server = await startTestServer(fleet, {
        secrets: new Map([['kasm/registration-token', 'MjAyNzk0MmUtZjQzMS00NDZl\n']]),
      });
      servers.push(server);

      // Act
      const { stdout } = await run('bash', [SCRIPT, server.endpoint], {
        env: {
          PATH: process.env.PATH ?? '/usr/bin:/bin',
          HOME: process.env.HOME ?? '/tmp',
          AWS: cli.path,
          AWS_REGION: REGION,
          AWS_CONFIG_FILE: '/nonexistent/aws-config',
          AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/aws-credentials',
          TAG_KEY: TAG.key,
          TAG_VALUE: TAG.value,
          SECRET_ID: 'kasm/registration-token',
          DOCUMENT: 'Test-Deliver',
          PARAMETERS: JSON.stringify({ Token: ['c2VhbGVkLXRva2Vu'] }),
        },
        // A dozen CLI starts (Python) take about 4.5 s each on a loaded 2-core machine.
        timeout: 240_000,
      });

      // Assess
      expect(stdout).toContain(
        'ok: describe-instance-information pages with --max-items 2 (12 tagged nodes in all)',
      );
      expect(stdout).toContain('ok: get-secret-value found kasm/registration-token');
      expect(stdout).toContain(
        'ok: describe-instance-information refuses a tag filter mixed with PingStatus',
      );
      expect(stdout).toMatch(/ok: send-command [0-9a-f-]{36} to mi-0+2\n/);
      expect(stdout).toContain(
        'ok: list-command-invocations --details: deliverLinux Success 0;deliverWindows Success 0',
      );
      expect(stdout).toContain(`ok: ec2 describe-tags: 8 instances carry ${TAG.key}`);
      expect(fleet.runs.map((r) => r.instanceId)).toEqual([hybridId(2)]);
      const operations = new Set(server.calls.map((c) => c.operation));
      expect(operations).toEqual(
        new Set([
          'DescribeInstanceInformation',
          'GetSecretValue',
          'SendCommand',
          'ListCommandInvocations',
          'DescribeTags',
        ]),
      );
      expect(server.calls.filter((c) => c.status !== 200).map((c) => c.errorType)).toEqual([
        'ValidationException',
        'InvalidParameterValue',
      ]);
      expect(
        server.calls.filter((c) => c.operation === 'DescribeTags').every((c) => c.service === 'ec2'),
      ).toBe(true);
    }, 300_000);
  }
});
