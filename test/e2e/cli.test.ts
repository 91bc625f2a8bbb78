/** The commands README.md and docs/ promise (npm run demo, simulate, proving-ground, ops), run as a user runs them. */

import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { DescribeInstanceInformationCommand, SSMClient } from '@aws-sdk/client-ssm';
import { afterAll, describe, expect, it } from 'vitest';
import { documentNames } from '../../shared/documents/ssm-documents.ts';
import type { FleetState } from '../proving-ground/fleet.ts';
import { mountsMentioning } from '../proving-ground/testing.ts';
import { expectCanariesIntact, ID, TOKEN } from './harness.ts';

const ROOT = join(import.meta.dirname, '../..');
const TSX = join(ROOT, 'node_modules/.bin/tsx');
const work = mkdtempSync(join(tmpdir(), 'ktr-cli-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

let scenarios = 0;
/** Each call gets its own file in this file's private work folder: a counter is enough. */
function scenarioFile(hosts: unknown[]): string {
  scenarios += 1;
  const path = join(work, `scenario-${scenarios}.json`);
  writeFileSync(
    path,
    JSON.stringify({ kasm: { heartbeatSeconds: 1 }, registrationToken: `${TOKEN}\n`, hosts }),
  );
  return path;
}

/**
 * What `withGround` checks after an in-process test, from the output of a simulate run (its ground
 * lived and died in the child): no stray file holds the token, and every trap's canary is intact.
 */
function expectCleanHosts(output: { fleet: FleetState; strayTokenFiles: Record<string, string[]> }): void {
  expect(output.strayTokenFiles, 'files other than a regular registration_token.txt hold the token').toEqual(
    {},
  );
  expectCanariesIntact(output.fleet);
}

function simulate(args: string[]) {
  return spawnSync(TSX, ['test/proving-ground/cli/simulate.ts', ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 60_000,
  });
}

describe('npm run simulate', () => {
  it('prints report, fleet and AWS call counts, and exits 0', () => {
    const scenario = scenarioFile([{ id: ID(1), components: { agent: { token: 'expired' } } }]);
    const result = simulate(['--scenario', scenario]);
    expect(result.status).toBe(0);
    const output = JSON.parse(result.stdout) as {
      report: { hosts: { components: { status: string }[] }[] };
      fleet: FleetState;
      awsCalls: Record<string, number>;
      strayTokenFiles: Record<string, string[]>;
    };
    expect(output.report.hosts[0]?.components[0]?.status).toBe('recovered');
    expect(output.fleet[ID(1)]?.agent).toEqual({ tokenValid: true, registrationFile: 'absent' });
    // The probe (the locked-out host makes its key while observed) and the push: no prepare round.
    expect(output.awsCalls.SendCommand).toBe(2);
    expect(output.awsCalls.GetSecretValue).toBe(1);
    expect(`${result.stdout}${result.stderr}`).not.toContain(TOKEN);
    expectCleanHosts(output);
  });

  it('writes to --out and takes --event', () => {
    const scenario = scenarioFile([{ id: ID(1), components: { agent: { token: 'expired' } } }]);
    const out = join(work, 'out.json');
    const result = simulate(['--scenario', scenario, '--event', '{"dryRun":true}', '--out', out]);
    expect(result.status).toBe(0);
    expect(result.stdout).toBe('');
    const written = JSON.parse(readFileSync(out, 'utf8')) as {
      report: { dryRun: boolean };
      fleet: FleetState;
      strayTokenFiles: Record<string, string[]>;
    };
    expect(written.report.dryRun).toBe(true);
    expect(written.fleet[ID(1)]?.agent?.tokenValid).toBe(false);
    expectCleanHosts(written);
  });

  it('exits 2 with the handler message on stderr for an event the handler rejects', () => {
    const scenario = scenarioFile([{ id: ID(1), components: { agent: { token: 'expired' } } }]);
    const result = simulate(['--scenario', scenario, '--event', '{"dryRun":"yes"}']);
    expect(result.status).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain('dryRun: expected true or false');
    expect(result.stderr).toContain('Accepted events');
  });

  it('runs a scenario annotated with fields it does not know, warning about them', () => {
    const path = join(work, 'annotated.json');
    writeFileSync(
      path,
      JSON.stringify({
        kasm: { heartbeatSeconds: 1 },
        registrationToken: `${TOKEN}\n`,
        expected: { 'i-0a1b2c3d4e5f60001': { agent: 'recovered' } },
        hosts: [{ id: ID(1), note: 'weekend', components: { agent: { token: 'expired' } } }],
      }),
    );
    const result = simulate(['--scenario', path]);
    expect(result.status).toBe(0);
    expect(result.stderr).toContain('scenario warning: expected: unknown field, ignored');
    expect(result.stderr).toContain('scenario warning: hosts[0].note: unknown field, ignored');
    const output = JSON.parse(result.stdout);
    expect(output.report.hosts[0].components[0].status).toBe('recovered');
    expectCleanHosts(output);
  });

  it('says what is wrong with an invalid scenario', () => {
    const path = join(work, 'bad.json');
    writeFileSync(path, JSON.stringify({ registrationToken: 'x', hosts: [{ id: 'host-1' }] }));
    const result = simulate(['--scenario', path]);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('hosts[0].id');
  });
});

describe('npm run proving-ground', () => {
  it('prints its endpoints, serves the real SDK clients, and cleans up on SIGTERM', async () => {
    const scenario = scenarioFile([
      { id: ID(1), components: { agent: { token: 'valid' } } },
      { id: ID(2), managed: false, components: { agent: { token: 'valid' } } },
    ]);
    const child: ChildProcess = spawn(TSX, ['test/proving-ground/cli/serve.ts', '--scenario', scenario], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    try {
      const line = await new Promise<string>((resolve, reject) => {
        createInterface({ input: child.stdout! }).once('line', resolve);
        child.once('exit', (code) => reject(new Error(`exited ${code}`)));
      });
      const info = JSON.parse(line) as {
        region: string;
        awsEndpoint: string;
        kasmApi: string;
        caFile: string;
        secretId: string;
        fleetTag: { key: string; value: string };
        documents: { probe: string; push: string };
      };
      expect(info.kasmApi).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      expect(info.documents).toEqual(documentNames('local'));
      expect(info.documents.probe).toMatch(/^KasmTokenReconciler-local-Probe-[0-9a-f]{12}$/);
      const client = {
        region: info.region,
        endpoint: info.awsEndpoint,
        credentials: { accessKeyId: 'a', secretAccessKey: 'b' },
      };
      const nodes = await new SSMClient(client).send(
        new DescribeInstanceInformationCommand({
          Filters: [{ Key: `tag:${info.fleetTag.key}`, Values: [info.fleetTag.value] }],
        }),
      );
      expect(nodes.InstanceInformationList?.map((n) => n.InstanceId)).toEqual([ID(1)]);
      const secret = await new SecretsManagerClient(client).send(
        new GetSecretValueCommand({ SecretId: info.secretId }),
      );
      expect(secret.SecretString).toBe(`${TOKEN}\n`);
    } finally {
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
    }
    expect(child.exitCode).toBe(0);
    expect(mountsMentioning('ktr-pg-')).toEqual([]);
  });
});
