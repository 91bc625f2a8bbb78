import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../infra/reconciler-function.ts';

const run = promisify(execFile);

/** Runs a command in the project root with a temporary cloud assembly directory. */
async function inTemporaryAssembly<T>(action: (outdir: string) => Promise<T>): Promise<T> {
  const outdir = mkdtempSync(join(tmpdir(), 'kasm-reconciler-app-'));
  try {
    return await action(outdir);
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}

const offline = {
  ...process.env,
  CDK_DISABLE_VERSION_CHECK: '1',
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
};

describe.concurrent('the CDK app', () => {
  it('synthesizes every cdk.json environment with the CDK CLI (tsx, bundling), offline and without cdk-nag findings', async () => {
    await inTemporaryAssembly(async (outdir) => {
      // Act
      await run('npx', ['cdk', 'synth', '--quiet', '-o', outdir], { cwd: PROJECT_ROOT, env: offline });

      // Assess
      const files = readdirSync(outdir);
      expect(files.filter((name) => name.endsWith('.template.json'))).toStrictEqual([
        'KasmTokenReconciler-dev.template.json',
        'KasmTokenReconciler-prod.template.json',
      ]);
      // One handler bundle shared by both environments, beside CDK's custom-resource provider code.
      const assets = files.filter((name) => /^asset\.[0-9a-f]{64}$/.test(name));
      expect(assets.filter((name) => existsSync(join(outdir, name, 'index.mjs')))).toHaveLength(1);
      expect(assets).toHaveLength(2);
      const report = JSON.parse(readFileSync(join(outdir, 'validation-report.json'), 'utf8'));
      expect(report.pluginReports).toStrictEqual([]);
    });
  });

  it('fails on a wrong setting with the message naming environment and field, and no stack trace', async () => {
    // Prepare
    const context = {
      environments: {
        prod: { registrationSecret: { nameOrArn: 'kasm/prod' }, fleetTag: { key: '', value: 'true' } },
      },
    };

    await inTemporaryAssembly(async (outdir) => {
      // Act
      const failure = await run('npx', ['tsx', 'infra/app.ts'], {
        cwd: PROJECT_ROOT,
        env: { ...offline, CDK_OUTDIR: outdir, CDK_CONTEXT_JSON: JSON.stringify(context) },
      }).then(
        () => undefined,
        (error: { code: number; stderr: string }) => error,
      );

      // Assess
      expect(failure?.code).toBe(1);
      expect(failure?.stderr.trim()).toBe(
        'Invalid deployment settings in cdk.json:\n' +
          '  environments.prod.fleetTag.key: expected a tag key of 1 to 128 letters, digits, spaces or _ . : / = + - @, got ""',
      );
    });
  });
});
