/**
 * Read-only overlay layers shared by every simulated host of a fleet. Inside a host's mount
 * namespace they are stacked over the machine's own directories, so nothing on the machine changes:
 * - `/opt` gains an empty `kasm/` (the mount point for the host's `/opt/kasm`);
 * - `/var/lib` gains `amazon/` and `kasm-canary/` (mount points for the host's SSM work dir and the
 *   canaries of trapped components);
 * - a directory on PATH gets overlay whiteouts (character devices 0/0) that make a command
 *   genuinely absent there: `openssl` on an opensslMissing host, and any `docker` other than the
 *   host's stand-in in `/usr/bin`.
 */
import { execFile } from 'node:child_process';
import { existsSync, realpathSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The PATH a Linux SSM command gets on the simulated host. */
export const HOST_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** The folder of /var/lib that holds the proving ground's socket inside a real agent's host. */
export const AGENT_SOCKET_MOUNT_NAME = 'ktr-proving-ground';

export interface BinOverlay {
  /** The directory to overlay (a real path, e.g. `/usr/bin`). */
  readonly dir: string;
  /** Lower layers to stack above it, top first (whiteout layers; the stand-in layer is added per run). */
  readonly layers: readonly string[];
}

export class NamespaceLayers {
  readonly root: string;
  readonly optLayer: string;
  readonly varLibLayer: string;
  /** Real path of `/usr/bin`, where the docker stand-in goes. */
  readonly usrBin: string;
  private readonly pathDirs: readonly string[];
  private readonly whiteouts = new Map<string, Promise<string>>();
  private prepared: Promise<void> | undefined;

  constructor(root: string) {
    this.root = root;
    this.optLayer = join(root, 'opt');
    this.varLibLayer = join(root, 'var-lib');
    this.usrBin = realpathSync('/usr/bin');
    const dirs: string[] = [];
    for (const dir of HOST_PATH.split(':')) {
      if (!existsSync(dir)) continue;
      const real = realpathSync(dir);
      if (!dirs.includes(real)) dirs.push(real);
    }
    this.pathDirs = dirs;
  }

  /** Creates the mount-point layers (once). */
  prepare(): Promise<void> {
    this.prepared ??= (async () => {
      await mkdir(join(this.optLayer, 'kasm'), { recursive: true });
      await mkdir(join(this.varLibLayer, 'amazon'), { recursive: true });
      await mkdir(join(this.varLibLayer, 'kasm-canary'), { recursive: true });
      // Where a real agent's relay finds the proving ground's Unix socket (hostModel "agent").
      await mkdir(join(this.varLibLayer, AGENT_SOCKET_MOUNT_NAME), { recursive: true });
    })();
    return this.prepared;
  }

  /** The overlays a host needs on PATH directories (without the per-run stand-in layer). */
  async binOverlays(opensslMissing: boolean): Promise<BinOverlay[]> {
    const overlays: BinOverlay[] = [];
    for (const dir of this.pathDirs) {
      const hidden: string[] = [];
      if (dir !== this.usrBin && existsSync(join(dir, 'docker'))) hidden.push('docker');
      if (opensslMissing && existsSync(join(dir, 'openssl'))) hidden.push('openssl');
      if (hidden.length === 0 && dir !== this.usrBin) continue;
      overlays.push({ dir, layers: hidden.length > 0 ? [await this.whiteoutLayer(dir, hidden)] : [] });
    }
    if (!overlays.some((o) => o.dir === this.usrBin)) overlays.push({ dir: this.usrBin, layers: [] });
    return overlays;
  }

  private whiteoutLayer(dir: string, names: readonly string[]): Promise<string> {
    const key = `${dir}:${names.join(',')}`;
    let layer = this.whiteouts.get(key);
    if (!layer) {
      const path = join(this.root, `whiteout-${this.whiteouts.size}-${names.join('-')}`);
      layer = (async () => {
        await mkdir(path, { recursive: true });
        for (const name of names) {
          if (existsSync(join(path, name))) continue;
          try {
            await run('mknod', [join(path, name), 'c', '0', '0']);
          } catch (error) {
            throw new Error(
              `cannot hide ${name} in ${dir}: creating an overlay whiteout needs root (${(error as Error).message})`,
            );
          }
        }
        return path;
      })();
      this.whiteouts.set(key, layer);
    }
    return layer;
  }
}
