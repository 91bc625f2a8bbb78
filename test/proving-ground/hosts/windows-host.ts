import { randomBytes, randomUUID } from 'node:crypto';
import { lstatSync } from 'node:fs';
import { chmod, mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative, sep } from 'node:path';
import { Document } from 'yaml';
import { COMPONENTS, type ComponentName, REGISTRATION_FILE } from '../kasm/catalog.ts';
import type { StepResult, StepRun } from '../types.ts';
import { HostSteps, SETUP_FAILED, stoppedBeforeRun } from './isolated-step.ts';
import { HOST_PATH } from './layers.ts';
import { type Limiter, shellQuote } from './limiter.ts';
import { findPwsh, pwshMissingReason } from './pwsh.ts';
import { type HostedComponent, noSuchComponent, type SimulatedHost } from './simulated-host.ts';
import {
  applyIcacls,
  DEFAULT_PARENT_ACL,
  describeReaders,
  inheritFrom,
  isPrivate,
  type NtfsAcl,
  parseIcacls,
  sddlOf,
  WELL_KNOWN_SIDS,
} from './windows-acl.ts';
import {
  type StandInCall,
  type StandInRequest,
  type StandInServer,
  standInPrelude,
} from './windows-stand-ins.ts';

/** The Kasm Windows agent's service name on a simulated host. */
export const WINDOWS_SERVICE_NAME = 'Kasm';
export const WINDOWS_SERVICE_DISPLAY_NAME = 'Kasm Windows Service';

export interface WindowsComponentSetup {
  readonly token: string | undefined;
  readonly componentId: string;
  readonly running: boolean;
  readonly readOnly: boolean;
}

export interface WindowsHostOptions {
  readonly id: string;
  readonly root: string;
  readonly limiter: Limiter;
  readonly standIns: StandInServer;
  /** HOME for pwsh (its caches), shared by the fleet's Windows hosts. */
  readonly pwshHome: string;
  readonly computerName: string;
  /** Called when a running service is restarted: the simulated agent starts again. */
  readonly onServiceRestart: () => Promise<void>;
}

/** What the ACL stand-in knows about a file or folder. */
export interface WindowsAclView {
  readonly hostPath: string;
  /** SDDL style, e.g. `D:P(A;;FA;;;SY)(A;;FA;;;BA)`. */
  readonly sddl: string;
  readonly inheritanceRemoved: boolean;
  /** Names of the accounts that can read it, e.g. `['SYSTEM', 'Administrators']`. */
  readonly readers: readonly string[];
  /** Readable by SYSTEM and Administrators only. */
  readonly private: boolean;
}

const UTF8_BOM = '\uFEFF';

export class WindowsHost implements SimulatedHost {
  readonly id: string;
  readonly platform = 'Windows';
  readonly root: string;
  /** Every request the stand-ins received on this host, in order. */
  readonly standInCalls: StandInCall[] = [];
  private readonly options: WindowsHostOptions;
  private component: { running: boolean; readOnly: boolean } | undefined;
  /** ACLs set through the icacls stand-in, by `dev:inode` (an NTFS ACL follows its file on rename). */
  private readonly acls = new Map<string, NtfsAcl>();
  /** Owners (SIDs) set by tests, by `dev:inode`; anything else is owned by SYSTEM (the step runs as it). */
  private readonly owners = new Map<string, string>();
  /** The SYSTEM account's DPAPI key on this host (the DPAPI stand-in encrypts with it). */
  private readonly dpapiKey = randomBytes(32).toString('hex');
  private readonly steps: HostSteps;

  constructor(options: WindowsHostOptions) {
    this.options = options;
    this.id = options.id;
    this.root = options.root;
    this.steps = new HostSteps(options.limiter);
    options.standIns.register(options.id, (request) => this.standIn(request));
  }

  async create(
    windows: WindowsComponentSetup | undefined,
    api: { host: string; port: number },
  ): Promise<void> {
    await mkdir(join(this.root, 'C/ProgramData'), { recursive: true });
    await mkdir(join(this.root, 'C/Windows/Temp'), { recursive: true });
    await mkdir(join(this.root, 'sim/runs'), { recursive: true });
    if (!windows) return;
    const file = this.configFile();
    await mkdir(join(dirname(file), 'log'), { recursive: true });
    const doc = new Document({
      api: {
        hostnames: [api.host],
        port: api.port,
        ...(windows.token === undefined ? {} : { auth_token: windows.token }),
      },
      server: { server_id: windows.componentId },
    });
    doc.commentBefore = ' Kasm Windows Service configuration';
    await writeFile(file, doc.toString({ lineWidth: 0 }));
    this.component = { running: windows.running, readOnly: windows.readOnly };
  }

  configPath(name: ComponentName): string {
    this.windows(name);
    return this.configFile();
  }

  /** `C:\Program Files\Kasm`, where the config and the registration file live. */
  installDir(): string {
    return dirname(this.configFile());
  }

  logPath(name: ComponentName): string {
    this.windows(name);
    return join(this.installDir(), 'log', 'kasm_service.log');
  }

  /** The product's state directory (`C:\ProgramData\kasm-token-reconciler`) on disk. */
  get stateDir(): string {
    return join(this.root, 'C/ProgramData/kasm-token-reconciler');
  }

  isInstalled(): boolean {
    return this.component !== undefined;
  }

  installed(): ComponentName[] {
    return this.isInstalled() ? ['windows'] : [];
  }

  isRunning(): boolean {
    return this.component?.running ?? false;
  }

  setRunning(name: ComponentName, running: boolean): void {
    this.windows(name);
    if (!this.component) throw new Error(`the windows component is not installed on ${this.id}`);
    this.component.running = running;
  }

  isReadOnly(): boolean {
    return this.component?.readOnly ?? false;
  }

  /** The Windows agent reads `registration_token.txt` only when its service starts. */
  componentOptions(name: ComponentName): HostedComponent {
    this.windows(name);
    return {
      hostId: this.id,
      name: 'windows',
      configPath: this.configFile(),
      logPath: this.logPath(name),
      readOnly: this.isReadOnly(),
      isRunning: () => this.isRunning(),
      readsRegistrationFile: 'on-start',
      hostRegistrationFile: `${this.hostPath(this.installDir())}\\${REGISTRATION_FILE}`,
    };
  }

  /** A path on disk as the host sees it: `<root>/C/Program Files/Kasm` -> `C:\Program Files\Kasm`. */
  hostPath(path: string): string | undefined {
    const rel = relative(join(this.root, 'C'), path);
    if (rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel)) return undefined;
    return `C:\\${rel.split(sep).join('\\')}`;
  }

  /** What the ACL stand-in knows about a file or folder on this host (undefined: it does not exist). */
  aclOf(path: string): WindowsAclView | undefined {
    let st: ReturnType<typeof lstatSync>;
    try {
      st = lstatSync(path);
    } catch {
      return undefined;
    }
    const acl = this.currentAcl(path, st.isDirectory(), `${st.dev}:${st.ino}`);
    return {
      hostPath: this.hostPath(path) ?? path,
      sddl: sddlOf(acl),
      inheritanceRemoved: acl.protected,
      readers: describeReaders(acl),
      private: isPrivate(acl),
    };
  }

  /** A file's ACL as the icacls stand-in knows it, SDDL style (undefined: the file does not exist). */
  fileAcl(path: string): string | undefined {
    return this.aclOf(path)?.sddl;
  }

  /** Windows components have no traps. */
  canary(): undefined {
    return undefined;
  }

  /** Adds an explicit Allow entry for `sid` to a file or folder's ACL, as someone with WRITE_DAC on it could. */
  addAce(path: string, sid: string, rights: string): void {
    const st = lstatSync(path);
    const key = `${st.dev}:${st.ino}`;
    const acl = this.currentAcl(path, st.isDirectory(), key);
    const flags = st.isDirectory() ? '(OI)(CI)' : '';
    this.acls.set(key, { ...acl, aces: [{ sid, rights, flags, inherited: false }, ...acl.aces] });
  }

  /** Makes `sid` the owner of a file or folder (not following a symlink), as a non-admin who made it would be. */
  setOwner(path: string, sid: string): void {
    const st = lstatSync(path);
    this.owners.set(`${st.dev}:${st.ino}`, sid);
  }

  /** Runs one `aws:runPowerShellScript` step with pwsh, like the SSM agent on Windows. */
  runStep(run: StepRun): Promise<StepResult> {
    if (run.action !== 'aws:runPowerShellScript') {
      return Promise.resolve(
        failure(`${run.action} is not supported on simulated Windows host ${this.id}.\n`),
      );
    }
    const pwsh = findPwsh();
    if (!pwsh) {
      return Promise.resolve(
        failure(
          `proving ground: ${pwshMissingReason()}, so simulated Windows host ${this.id} cannot run ${run.action}.\n`,
        ),
      );
    }
    return this.steps.schedule(() => this.execute(run, pwsh));
  }

  /** Kills every step still running on this host, waits for them to end, and runs no more steps. */
  abortAll(): Promise<void> {
    return this.steps.abortAll();
  }

  private configFile(): string {
    return join(this.root, COMPONENTS.windows.configFile);
  }

  /** Checks that the component is the Windows agent, the only one a Windows host has. */
  private windows(name: ComponentName): void {
    if (name !== 'windows') throw noSuchComponent(name, this);
  }

  private currentAcl(path: string, isFolder: boolean, key: string): NtfsAcl {
    const known = this.acls.get(key);
    if (known) return known;
    let parent = DEFAULT_PARENT_ACL;
    try {
      const pst = lstatSync(dirname(path));
      parent = this.acls.get(`${pst.dev}:${pst.ino}`) ?? DEFAULT_PARENT_ACL;
    } catch {
      parent = DEFAULT_PARENT_ACL;
    }
    return inheritFrom(parent, isFolder);
  }

  private async standIn(request: StandInRequest): Promise<Record<string, unknown>> {
    const at = new Date().toISOString();
    const name = typeof request.name === 'string' ? request.name : '';
    const installed =
      this.component !== undefined && name.toLowerCase() === WINDOWS_SERVICE_NAME.toLowerCase();
    switch (request.command) {
      case 'Get-Service': {
        this.standInCalls.push({
          at,
          command: 'Get-Service',
          args: [name],
          outcome: installed ? 'found' : 'not-found',
        });
        if (!installed) return { found: false };
        return {
          found: true,
          name: WINDOWS_SERVICE_NAME,
          displayName: WINDOWS_SERVICE_DISPLAY_NAME,
          status: this.isRunning() ? 'Running' : 'Stopped',
        };
      }
      case 'Restart-Service': {
        if (!installed) {
          this.standInCalls.push({ at, command: 'Restart-Service', args: [name], outcome: 'not-found' });
          return {
            ok: false,
            message: `Cannot find any service with service name '${name}'.`,
            category: 'ObjectNotFound',
            errorId: 'NoServiceFoundForGivenName,Microsoft.PowerShell.Commands.RestartServiceCommand',
          };
        }
        if (!this.isRunning()) {
          this.standInCalls.push({ at, command: 'Restart-Service', args: [name], outcome: 'start-failed' });
          return {
            ok: false,
            message:
              `Service '${WINDOWS_SERVICE_DISPLAY_NAME} (${WINDOWS_SERVICE_NAME})' cannot be started due to the ` +
              `following error: Cannot start service ${WINDOWS_SERVICE_NAME} on computer '.'.`,
            category: 'OpenError',
            errorId: 'CouldNotStartService,Microsoft.PowerShell.Commands.RestartServiceCommand',
          };
        }
        this.standInCalls.push({ at, command: 'Restart-Service', args: [name], outcome: 'restarted' });
        await this.options.onServiceRestart();
        return { ok: true };
      }
      case 'icacls':
        return this.icacls(at, Array.isArray(request.args) ? request.args.map(String) : []);
      case 'Get-Acl': {
        // Get-Acl reads the object itself: for a junction or symlink, the link's own owner.
        const path = typeof request.path === 'string' ? request.path : '';
        let st: ReturnType<typeof lstatSync> | undefined;
        try {
          st = lstatSync(path);
        } catch {
          st = undefined;
        }
        const key = st ? `${st.dev}:${st.ino}` : '';
        const owner = st ? (this.owners.get(key) ?? 'S-1-5-18') : undefined;
        this.standInCalls.push({
          at,
          command: 'Get-Acl',
          args: [path],
          outcome: owner ?? 'not-found',
          ...(this.hostPath(path) ? { hostPath: this.hostPath(path) } : {}),
        });
        if (!owner || !st) return { found: false };
        const acl = this.currentAcl(path, st.isDirectory(), key);
        return {
          found: true,
          owner,
          ownerName: WELL_KNOWN_SIDS[owner] ?? owner,
          protected: acl.protected,
          // icacls' N (no access) is a deny entry; every other right an allow entry.
          aces: acl.aces.map((a) => ({
            sid: a.sid,
            type: a.rights === 'N' ? 'Deny' : 'Allow',
            inherited: a.inherited,
          })),
        };
      }
      default:
        throw new Error(`no stand-in for ${request.command}`);
    }
  }

  private async icacls(at: string, args: string[]): Promise<Record<string, unknown>> {
    const parsed = parseIcacls(args);
    if ('invalid' in parsed) {
      this.standInCalls.push({ at, command: 'icacls', args, outcome: 'invalid' });
      return { exitCode: 87, output: [`Invalid parameter "${parsed.invalid}"`] };
    }
    const hostPath = this.hostPath(parsed.target);
    let st: ReturnType<typeof lstatSync> | undefined;
    try {
      st = hostPath === undefined ? undefined : lstatSync(parsed.target);
    } catch {
      st = undefined;
    }
    if (!st || hostPath === undefined) {
      this.standInCalls.push({ at, command: 'icacls', args, outcome: 'not-found', hostPath });
      return {
        exitCode: 2,
        output: [
          `${hostPath ?? parsed.target}: The system cannot find the file specified.`,
          'Successfully processed 0 files; Failed processing 1 files',
        ],
      };
    }
    const key = `${st.dev}:${st.ino}`;
    const isFolder = st.isDirectory();
    const acl = applyIcacls(this.currentAcl(parsed.target, isFolder, key), parsed);
    this.acls.set(key, acl);
    const mode = isPrivate(acl) ? (isFolder ? 0o700 : 0o600) : isFolder ? 0o755 : 0o644;
    await chmod(parsed.target, mode);
    this.standInCalls.push({ at, command: 'icacls', args, outcome: 'ok', hostPath, acl: sddlOf(acl) });
    return {
      exitCode: 0,
      output: [`processed file: ${hostPath}`, 'Successfully processed 1 files; Failed processing 0 files'],
    };
  }

  private async execute(run: StepRun, pwsh: string): Promise<StepResult> {
    if (this.steps.closed) return stoppedBeforeRun(this.id);
    const runId = randomUUID();
    const workDir = join(
      this.root,
      'C/ProgramData/Amazon/SSM/InstanceData',
      this.id,
      'document/orchestration',
      runId,
      'awsrunPowerShellScript/0.awsrunPowerShellScript',
    );
    const runDir = join(this.root, 'sim/runs', runId);
    try {
      await mkdir(workDir, { recursive: true });
      await mkdir(runDir, { recursive: true });
      await mkdir(this.options.pwshHome, { recursive: true });
      const script = join(workDir, '_script.ps1');
      // The SSM agent writes the script with a UTF-8 byte order mark (fileutil.ByteOrderMarkEmit).
      await writeFile(script, UTF8_BOM + run.script);
      const prelude = join(runDir, 'prelude.ps1');
      await writeFile(
        prelude,
        standInPrelude({
          driveRoot: join(this.root, 'C'),
          url: this.options.standIns.url(this.id),
          dpapiKey: this.dpapiKey,
        }),
      );
      const runner = join(runDir, 'run.ps1');
      await writeFile(
        runner,
        [
          `. '${prelude.replaceAll("'", "''")}'`,
          `& '${script.replaceAll("'", "''")}'`,
          'exit $LASTEXITCODE',
          '',
        ].join('\n'),
      );
      if (this.steps.closed) return stoppedBeforeRun(this.id);
      return await this.spawnInNamespace(this.setupScript(pwsh, workDir, runner), run, pwsh);
    } finally {
      await rm(runDir, { recursive: true, force: true });
    }
  }

  private setupScript(pwsh: string, workDir: string, runner: string): string {
    const q = shellQuote;
    const lines = [
      'set -e',
      `fail() { echo "proving ground: cannot set up the namespace of simulated host ${this.id}: $*" >&2; exit ${SETUP_FAILED}; }`,
    ];
    if (this.isInstalled() && this.isReadOnly()) {
      const dir = q(this.installDir());
      lines.push(
        `mount --bind ${dir} ${dir} && mount -o remount,bind,ro ${dir} || fail 'read-only Kasm folder'`,
      );
    }
    lines.push(
      `cd ${q(workDir)} || fail 'cd to the work directory'`,
      `exec ${q(pwsh)} -NoLogo -InputFormat None -NonInteractive -NoProfile -ExecutionPolicy Unrestricted -File ${q(runner)}`,
    );
    return lines.join('\n');
  }

  private spawnInNamespace(setup: string, run: StepRun, pwsh: string): Promise<StepResult> {
    const env: Record<string, string> = {
      PATH: `${HOST_PATH}:${dirname(pwsh)}`,
      HOME: this.options.pwshHome,
      ...(process.env.DOTNET_ROOT ? { DOTNET_ROOT: process.env.DOTNET_ROOT } : {}),
      POWERSHELL_TELEMETRY_OPTOUT: '1',
      POWERSHELL_UPDATECHECK: 'Off',
      DOTNET_CLI_TELEMETRY_OPTOUT: '1',
      DOTNET_NOLOGO: '1',
      // What the SSM agent's PowerShell sees on Windows (only these matter to the scripts).
      ProgramData: 'C:\\ProgramData',
      ALLUSERSPROFILE: 'C:\\ProgramData',
      SystemRoot: 'C:\\Windows',
      windir: 'C:\\Windows',
      COMPUTERNAME: this.options.computerName,
      ...run.env,
    };
    return this.steps.run(setup, env, run.timeoutSeconds, run.signal);
  }
}

function failure(stderr: string): StepResult {
  return { exitCode: 1, stdout: '', stderr, timedOut: false };
}
