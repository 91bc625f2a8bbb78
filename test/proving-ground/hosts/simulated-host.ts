/**
 * What the fleet (fleet.ts) needs of a simulated host, whatever its platform: its tree on disk, its
 * Kasm components' files and process state, and running an SSM step. LinuxHost (linux-host.ts) and
 * WindowsHost (windows-host.ts) implement it. Asking a host about a component its platform does not
 * have is an error: `<component> does not exist on <Platform> host <id>`.
 */
import type { ComponentName } from '../kasm/catalog.ts';
import type { SimulatedComponentOptions } from '../kasm/component.ts';
import type { Platform, StepResult, StepRun } from '../types.ts';

/** What a host tells the loop of one of its components (kasm/component.ts); the fleet adds the Admin API. */
export type HostedComponent = Pick<
  SimulatedComponentOptions,
  | 'hostId'
  | 'name'
  | 'configPath'
  | 'logPath'
  | 'readOnly'
  | 'isRunning'
  | 'readsRegistrationFile'
  | 'hostRegistrationFile'
>;

export interface SimulatedHost {
  readonly id: string;
  readonly platform: Platform;
  /** This host's root directory on disk. */
  readonly root: string;
  /** The Kasm components installed on this host. */
  installed(): ComponentName[];
  /** The component's config file on disk (whether or not it is installed). */
  configPath(name: ComponentName): string;
  /** Where the component appends its log, on disk. */
  logPath(name: ComponentName): string;
  /** Starts or stops the component's process (the docker / Get-Service stand-in follows on the next step). */
  setRunning(name: ComponentName, running: boolean): void;
  /** How the loop of an installed component finds its files and process state. */
  componentOptions(name: ComponentName): HostedComponent;
  /** A path on disk as the host names it (`/opt/kasm/…`, `C:\…`); undefined: not on the host's drive. */
  hostPath(path: string): string | undefined;
  /** A file's ACL as far as the host models one (Windows, SDDL style); undefined where none is modelled. */
  fileAcl(path: string): string | undefined;
  /** A component with a `trap`: whether its root-owned canary is untouched; undefined without a trap. */
  canary(name: ComponentName): 'intact' | 'changed' | undefined;
  /** Runs one document step the way the platform's SSM agent runs it. */
  runStep(run: StepRun): Promise<StepResult>;
  /** Kills every step still running on this host, waits for them to end, and runs no more steps. */
  abortAll(): Promise<void>;
}

/** The error for a component the host's platform does not have. */
export function noSuchComponent(name: string, host: Pick<SimulatedHost, 'id' | 'platform'>): Error {
  return new Error(`${name} does not exist on ${host.platform} host ${host.id}`);
}
