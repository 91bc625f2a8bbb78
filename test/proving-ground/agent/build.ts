/**
 * The real Amazon SSM Agent for `hostModel: "agent"`: built once from the team's vendored source
 * (`../shared/vendor/amazon-ssm-agent/`, beside the repository) with its own `build.sh`, and cached
 * per source archive, so only the first run on a machine pays the build (about a minute on 2 cores).
 *
 * Cache: `$KTR_AGENT_CACHE`, else `~/.cache/kasm-token-reconciler/ssm-agent`, one folder per hash of the
 * archive and the build script. A folder holds `bin/` (the four binaries and an empty `configuration/`,
 * the mount point each simulated host puts its own `amazon-ssm-agent.json` on) and `build.log`.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The vendored source, beside the checkout: `<repo>/../shared/vendor/amazon-ssm-agent`. */
export function agentSourceDir(): string {
  return (
    process.env.KTR_AGENT_SOURCE ??
    resolve(new URL('.', import.meta.url).pathname, '../../../../shared/vendor/amazon-ssm-agent')
  );
}

const BINARIES = ['amazon-ssm-agent', 'ssm-agent-worker', 'ssm-document-worker', 'ssm-session-worker'];

export interface AgentBuild {
  /** Folder holding the binaries; the agent reads `configuration/amazon-ssm-agent.json` beside itself. */
  readonly binDir: string;
}

/** Why the real agent cannot run here (no source), or undefined when it can be built. */
export function agentMissingReason(): string | undefined {
  const src = agentSourceDir();
  if (!existsSync(join(src, 'amazon-ssm-agent-src.tar.gz')) || !existsSync(join(src, 'build.sh'))) {
    return `the Amazon SSM Agent source is not at ${src} (amazon-ssm-agent-src.tar.gz and build.sh, the team's shared/vendor folder)`;
  }
  if (process.platform !== 'linux') return 'the real SSM Agent runs on Linux hosts only';
  return undefined;
}

/**
 * For a real-agent test file's top level: why its tests skip here, or undefined when they run. In CI
 * a missing agent fails the file instead: CI must run them.
 */
export function realAgentGate(): string | undefined {
  const missing = agentMissingReason();
  if (missing && process.env.CI === 'true') {
    throw new Error(`CI must run the real SSM Agent tests, but ${missing}`);
  }
  return missing;
}

async function sha256Of(paths: readonly string[]): Promise<string> {
  const hash = createHash('sha256');
  for (const path of paths) {
    for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  }
  return hash.digest('hex').slice(0, 16);
}

let building: Promise<AgentBuild> | undefined;

/**
 * The agent's binaries, built on first use. Throws with the reason when the source is missing or the
 * build fails (the build log's tail included).
 */
export function ensureAgentBuild(log: (line: string) => void = () => undefined): Promise<AgentBuild> {
  building ??= build(log).catch((error: unknown) => {
    building = undefined;
    throw error;
  });
  return building;
}

async function build(log: (line: string) => void): Promise<AgentBuild> {
  const missing = agentMissingReason();
  if (missing) throw new Error(`cannot run the real SSM Agent: ${missing}`);
  const src = agentSourceDir();
  const key = await sha256Of([join(src, 'amazon-ssm-agent-src.tar.gz'), join(src, 'build.sh')]);
  const cacheRoot =
    process.env.KTR_AGENT_CACHE ?? join(homedir(), '.cache', 'kasm-token-reconciler', 'ssm-agent');
  const dir = join(cacheRoot, key);
  const binDir = join(dir, 'bin');
  if (BINARIES.every((b) => existsSync(join(binDir, b)))) return { binDir };
  log(`building the Amazon SSM Agent from ${src} (once per machine, about a minute)…`);
  const staging = join(cacheRoot, `${key}.building-${process.pid}`);
  await rm(staging, { recursive: true, force: true });
  await mkdir(staging, { recursive: true });
  try {
    const { stdout, stderr } = await run('bash', [join(src, 'build.sh'), join(staging, 'bin')], {
      maxBuffer: 64 * 1024 * 1024,
      env: { ...process.env, GOCACHE: join(cacheRoot, 'gocache') },
    });
    await writeFile(join(staging, 'build.log'), `${stdout}${stderr}`);
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string; message: string };
    const tail = `${e.stdout ?? ''}${e.stderr ?? ''}`.trim().split('\n').slice(-15).join('\n');
    await rm(staging, { recursive: true, force: true });
    throw new Error(`building the Amazon SSM Agent failed: ${e.message}\n${tail}`);
  }
  // The mount point of each host's own configuration (the agent looks for it beside its binary).
  await mkdir(join(staging, 'bin', 'configuration'), { recursive: true });
  await rm(dir, { recursive: true, force: true });
  await rename(staging, dir);
  log(`built the Amazon SSM Agent into ${binDir}`);
  return { binDir };
}
