/**
 * A simulated Windows Server host: for now only its config file on disk
 * (`C:\Program Files\Kasm\config.yaml` as `<root>/C/Program Files/Kasm/config.yaml`), so the fleet
 * state can report it. Running steps (PowerShell) and the Windows agent's loop are a later task:
 * `runStep` answers with a clear failure.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Document } from 'yaml';
import { COMPONENTS } from '../kasm/catalog.ts';
import type { StepResult, StepRun } from '../types.ts';

export const WINDOWS_NOT_IMPLEMENTED = 'Windows hosts not implemented yet in the proving ground';

export interface WindowsComponentSetup {
  readonly token: string | undefined;
  readonly componentId: string;
  readonly running: boolean;
  readonly readOnly: boolean;
}

export class WindowsHost {
  readonly id: string;
  readonly root: string;
  private component: { running: boolean; readOnly: boolean } | undefined;

  constructor(id: string, root: string) {
    this.id = id;
    this.root = root;
  }

  async create(
    windows: WindowsComponentSetup | undefined,
    api: { host: string; port: number },
  ): Promise<void> {
    await mkdir(this.root, { recursive: true });
    if (!windows) return;
    const file = this.configPath();
    await mkdir(dirname(file), { recursive: true });
    const doc = new Document({
      api: {
        hostnames: [api.host],
        port: api.port,
        ...(windows.token === undefined ? {} : { auth_token: windows.token }),
      },
      server: { server_id: windows.componentId },
    });
    await writeFile(file, doc.toString({ lineWidth: 0 }));
    this.component = { running: windows.running, readOnly: windows.readOnly };
  }

  configPath(): string {
    return join(this.root, COMPONENTS.windows.configFile);
  }

  isInstalled(): boolean {
    return this.component !== undefined;
  }

  runStep(run: StepRun): Promise<StepResult> {
    return Promise.resolve({
      exitCode: 1,
      stdout: '',
      stderr: `${WINDOWS_NOT_IMPLEMENTED}: cannot run ${run.action} on ${this.id}.\n`,
      timedOut: false,
    });
  }
}
