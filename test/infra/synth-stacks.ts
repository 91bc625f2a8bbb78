/**
 * Test helper: builds the app from a given `environments` context exactly as infra/app.ts
 * does, without bundling, in a temporary cloud assembly that is removed afterwards.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { addReconcilerStacks } from '../../infra/reconciler-app.ts';
import type { ReconcilerStack } from '../../infra/reconciler-stack.ts';

export interface Synthesized {
  readonly app: App;
  readonly stacks: readonly ReconcilerStack[];
  readonly templates: Readonly<Record<string, Template>>;
}

/** Synthesizes without bundling ('aws:cdk:bundling-stacks': []) and removes the outdir. */
export function synthStacks(environments: unknown, options: { readonly env?: string } = {}): Synthesized {
  const outdir = mkdtempSync(join(tmpdir(), 'kasm-reconciler-synth-'));
  try {
    const app = new App({
      outdir,
      context: {
        environments,
        ...(options.env === undefined ? {} : { env: options.env }),
        'aws:cdk:bundling-stacks': [],
      },
    });
    const stacks = addReconcilerStacks(app);
    const templates = Object.fromEntries(
      stacks.map((stack) => [stack.settings.name, Template.fromStack(stack)]),
    );
    return { app, stacks, templates };
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}

/** A PEM-shaped CA bundle in its own temporary directory; call the returned cleanup. */
export function temporaryCaFile(): { readonly path: string; readonly remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'kasm-reconciler-ca-'));
  const path = join(dir, 'kasm-ca.pem');
  writeFileSync(
    path,
    '-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUTestOnlyNotARealCertificate0wCgYIKoZIzj0EAwIw\n-----END CERTIFICATE-----\n',
  );
  return { path, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
