import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, isAbsolute, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { App } from 'aws-cdk-lib';
import { afterAll, describe, expect, it } from 'vitest';
import {
  BUNDLED_HANDLER_FILE,
  removeBundledHandler,
  synthBundledHandler,
} from '../../infra/bundle-for-test.ts';
import { addReconcilerStacks } from '../../infra/reconciler-app.ts';
import { BUNDLED_CA_FILE_NAME } from '../../shared/names.ts';
import { temporaryCaFile } from './synth-stacks.ts';

afterAll(() => removeBundledHandler());

/** Issue 21's bar for the minified bundle. */
const MAX_BUNDLE_BYTES = 1_200_000;

/** The variables readConfig requires; everything else has a default. */
const REQUIRED_ENVIRONMENT = {
  REGISTRATION_TOKEN_SECRET_ID: 'kasm/bundle/registration-token',
  PROBE_DOCUMENT_NAME: 'KasmTokenReconciler-bundle-Probe',
  PUSH_DOCUMENT_NAME: 'KasmTokenReconciler-bundle-Push',
  PROBE_DOCUMENT_HASH: 'a'.repeat(64),
  PUSH_DOCUMENT_HASH: 'b'.repeat(64),
};

describe('the bundled handler', () => {
  it('is a minified ESM file with its source map inside the synthesized asset directory', async () => {
    // Act
    const file = await synthBundledHandler();

    // Assess
    expect(isAbsolute(file)).toBe(true);
    expect(basename(file)).toBe(BUNDLED_HANDLER_FILE);
    expect(basename(dirname(file))).toMatch(/^asset\.[0-9a-f]{64}$/);
    expect(readdirSync(dirname(file)).sort()).toStrictEqual([
      BUNDLED_HANDLER_FILE,
      `${BUNDLED_HANDLER_FILE}.map`,
    ]);
    const code = readFileSync(file, 'utf8');
    expect(code).toMatch(/^import \{ createRequire as __kasmCreateRequire \} from 'node:module';/);
    expect(code).toMatch(/\n\/\/# sourceMappingURL=index\.mjs\.map\n?$/);
    // Minified: a few very long lines, not one statement per line.
    expect(code.split('\n').length).toBeLessThan(200);
    const map = JSON.parse(readFileSync(`${file}.map`, 'utf8')) as { sources: string[] };
    expect(map.sources.some((source) => source.endsWith('lambda/handler.ts'))).toBe(true);
  });

  it('stays under 1.2 MB minified, so a cold start loads little (1.58 MB while it carried undici)', async () => {
    // Act
    const file = await synthBundledHandler();

    // Assess
    expect(statSync(file).size).toBeLessThan(MAX_BUNDLE_BYTES);
    const map = JSON.parse(readFileSync(`${file}.map`, 'utf8')) as { sources: string[] };
    expect(map.sources.filter((source) => source.includes('node_modules/undici/'))).toStrictEqual([]);
  });

  it('loads, exports handler, and answers an unknown field with a report naming it, before touching AWS', async () => {
    // Prepare
    const file = await synthBundledHandler();
    const saved = Object.fromEntries(
      Object.keys(REQUIRED_ENVIRONMENT).map((name) => [name, process.env[name]]),
    );
    Object.assign(process.env, REQUIRED_ENVIRONMENT);

    try {
      // Act
      const bundle = (await import(/* @vite-ignore */ pathToFileURL(file).href)) as {
        handler: (event: unknown) => Promise<unknown>;
      };
      const report = (await bundle.handler({ bogus: 1 })) as { rejected?: boolean; summary?: string };

      // Assess: rejected without a function error (which would page through the FunctionErrors alarm)
      expect(typeof bundle.handler).toBe('function');
      expect(report.rejected).toBe(true);
      expect(report.summary).toMatch(
        /^Event rejected, nothing was done: Invalid event: bogus: unknown field/,
      );
    } finally {
      for (const [name, value] of Object.entries(saved)) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
    }
  });
});

describe('the bundled handler under NODE_OPTIONS=--enable-source-maps', () => {
  it('reports errors with stack frames in the TypeScript sources, as the deployed function does', async () => {
    // Prepare
    const file = await synthBundledHandler();
    // An SQS batch that is not one SQS sends still fails the invocation (so SQS keeps the messages).
    const script = `import(${JSON.stringify(pathToFileURL(file).href)}).then((m) => m.handler({ Records: [] })).catch((e) => console.log(e.stack))`;

    // Act
    const stack = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
      env: { ...process.env, ...REQUIRED_ENVIRONMENT, NODE_OPTIONS: '--enable-source-maps' },
      encoding: 'utf8',
    });

    // Assess
    expect(stack).toMatch(/^InvalidEventError: Invalid event: Records: expected at least one record/);
    expect(stack).toMatch(/shared\/event-schema\.ts:\d+:\d+/);
  });
});

describe('the bundling hook', () => {
  it('copies the configured CA bundle next to the handler, where KASM_CA_FILE points', () => {
    // Prepare
    const ca = temporaryCaFile();
    const outdir = mkdtempSync(join(tmpdir(), 'kasm-reconciler-ca-bundle-'));
    try {
      const app = new App({
        outdir,
        context: {
          environments: {
            ca: {
              registrationSecret: { nameOrArn: 'kasm/ca/registration-token' },
              kasmApi: { url: 'https://kasm.example.com', caFile: ca.path },
            },
          },
        },
      });
      addReconcilerStacks(app);

      // Act
      app.synth();

      // Assess
      // The handler's asset (the stack has others, e.g. CDK's custom-resource provider).
      const assets = readdirSync(outdir)
        .filter((name) => /^asset\.[0-9a-f]{64}$/.test(name))
        .filter((name) => existsSync(join(outdir, name, BUNDLED_HANDLER_FILE)));
      expect(assets).toHaveLength(1);
      const copied = join(outdir, assets[0] as string, BUNDLED_CA_FILE_NAME);
      expect(existsSync(copied)).toBe(true);
      expect(readFileSync(copied, 'utf8')).toBe(readFileSync(ca.path, 'utf8'));
    } finally {
      rmSync(outdir, { recursive: true, force: true });
      ca.remove();
    }
  });
});
