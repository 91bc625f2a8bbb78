/**
 * Synthesizes the stack WITH bundling (the local esbuild, exactly as `cdk deploy` would) into
 * a temporary cloud assembly and returns the bundled handler, so tests and the proving
 * ground can run the very file Lambda would run. Bundles once per process; the temporary
 * directory is removed on `removeBundledHandler()` or when the process exits.
 *
 * @example
 * const file = await synthBundledHandler();
 * const { handler } = await import(pathToFileURL(file).href);
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { addReconcilerStacks } from './reconciler-app.ts';

/** The file Lambda loads for handler "index.handler" with ESM output. */
export const BUNDLED_HANDLER_FILE = 'index.mjs';

/** Settings of the environment that is bundled (only the required one; the rest default). */
export const BUNDLE_ENVIRONMENT = Object.freeze({
  name: 'bundle',
  settings: { registrationSecret: { nameOrArn: 'kasm/bundle/registration-token' } },
});

let bundled: Promise<string> | undefined;
let outdir: string | undefined;

/** Absolute path of the bundled handler file (…/asset.<hash>/index.mjs). */
export function synthBundledHandler(): Promise<string> {
  bundled ??= new Promise<string>((resolveBundle) => resolveBundle(bundle())).catch((error: unknown) => {
    removeBundledHandler();
    throw error;
  });
  return bundled;
}

/** Removes the temporary cloud assembly (the bundle path stops existing). */
export function removeBundledHandler(): void {
  if (outdir) rmSync(outdir, { recursive: true, force: true });
  outdir = undefined;
  bundled = undefined;
}

function bundle(): string {
  outdir = mkdtempSync(join(tmpdir(), 'kasm-reconciler-bundle-'));
  process.once('exit', removeBundledHandler);
  const app = new App({
    outdir,
    context: { environments: { [BUNDLE_ENVIRONMENT.name]: BUNDLE_ENVIRONMENT.settings } },
  });
  const [stack] = addReconcilerStacks(app);
  if (!stack) throw new Error('the bundle environment produced no stack');
  app.synth();
  return findHandlerAsset(outdir, stack.artifactId);
}

interface AssetManifest {
  readonly files?: Record<
    string,
    { readonly source?: { readonly path?: string; readonly packaging?: string } }
  >;
}

/** The one zip asset of the stack that holds the bundled handler. */
function findHandlerAsset(assemblyDir: string, artifactId: string): string {
  const manifestFile = join(assemblyDir, `${artifactId}.assets.json`);
  const manifest = JSON.parse(readFileSync(manifestFile, 'utf8')) as AssetManifest;
  const candidates = Object.values(manifest.files ?? {})
    .filter((file) => file.source?.packaging === 'zip' && file.source.path)
    .map((file) => join(assemblyDir, file.source?.path as string, BUNDLED_HANDLER_FILE))
    .filter((file) => existsSync(file));
  if (candidates.length !== 1) {
    const listing = readdirSync(assemblyDir).join(', ');
    throw new Error(
      `expected one bundled ${BUNDLED_HANDLER_FILE} in ${assemblyDir}, found ${candidates.length} (${listing})`,
    );
  }
  return candidates[0] as string;
}
