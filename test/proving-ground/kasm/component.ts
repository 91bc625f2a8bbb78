/**
 * A simulated Linux Kasm component (agent, guac, RDP gateway, RDP HTTPS gateway): an in-process
 * heartbeat loop that works on the host's files from outside the host's namespace and talks to
 * the simulated Admin API over HTTPS, following the rules in test/proving-ground/README.md.
 *
 * On each heartbeat (first at start + heartbeat, then every heartbeat):
 * 1. not running: nothing at all;
 * 2. read the config; no token: log that it must be redeployed, nothing else (the
 *    registration file is never read);
 * 3. token decodes and expires later than {@link refreshMarginSeconds} from now: nothing;
 * 4. otherwise refresh (`refresh_token`); on success save the new token;
 * 5. refresh refused: if `registration_token.txt` sits next to the config, read it (trailing
 *    newlines ignored), `register_component` with it; on success save the token, delete the file;
 *    on refusal log and leave the file. With no file, try `register_component` with the expired
 *    token, which Kasm answers with `The JWT token has expired.`
 *
 * The Windows agent (`readsRegistrationFile: 'on-start'`) follows the same token rules but never looks
 * for the file on a heartbeat: only when its service starts ({@link SimulatedComponent.restart}) does
 * it read the file, register, save its config and delete the file.
 *
 * @example
 * ```ts
 * const c = new SimulatedComponent({ ...options });
 * c.start();
 * await c.waitForHeartbeats(2);
 * await c.stop();
 * ```
 */
import { access, appendFile, readFile, rm } from 'node:fs/promises';
import { request } from 'node:https';
import { dirname, join, posix } from 'node:path';
import { decodeJwt } from 'jose';
import { COMPONENTS, type ComponentName, LINUX_INSTALL_ROOT, REGISTRATION_FILE } from './catalog.ts';
import { readConfig, stringAt, writeConfigValue } from './config-file.ts';

export interface SimulatedComponentOptions {
  readonly hostId: string;
  readonly name: ComponentName;
  /** The config file on disk (outside any namespace). */
  readonly configPath: string;
  /** Where the component appends its log. */
  readonly logPath: string;
  /** Admin API base URL, `https://127.0.0.1:PORT`. */
  readonly apiUrl: string;
  /** CA certificate (PEM) the component trusts. */
  readonly ca: string;
  readonly heartbeatSeconds: number;
  readonly tokenLifetimeSeconds: number;
  /** The config directory cannot be written: the config is rewritten in place, the registration file cannot be removed. */
  readonly readOnly?: boolean;
  /** Asked on every heartbeat: a stopped component does nothing. */
  readonly isRunning: () => boolean;
  /**
   * When the component looks for `registration_token.txt`: on each heartbeat whose refresh is refused
   * (Linux components, the default), or only when its service starts (the Windows agent).
   */
  readonly readsRegistrationFile?: 'on-heartbeat' | 'on-start';
  /** The registration file as the host names it, for log lines (default below `/opt/kasm/current`). */
  readonly hostRegistrationFile?: string;
}

/**
 * How long before `exp` a component refreshes its token: max(2 heartbeats, half the token
 * lifetime). Two heartbeats so that a token is never left to lapse between two wakes; half the
 * lifetime so that, with a long lifetime, a "valid" token is left alone for a good while.
 */
export function refreshMarginSeconds(heartbeatSeconds: number, tokenLifetimeSeconds: number): number {
  return Math.max(2 * heartbeatSeconds, tokenLifetimeSeconds / 2);
}

/** `2025-07-23 18:45:47` (UTC), the form Kasm prints expiry times in. */
export function kasmTime(epochSeconds: number): string {
  return new Date(epochSeconds * 1000).toISOString().replace('T', ' ').slice(0, 19);
}

interface ApiReply {
  readonly status: number;
  readonly body: Record<string, unknown> | undefined;
}

const MAX_ATTEMPTS = 10;

export class SimulatedComponent {
  readonly options: SimulatedComponentOptions;
  /** The directory and registration file as the host sees them (for log lines). */
  readonly hostConfigDir: string;
  private readonly shownRegistrationFile: string;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  /** Bumped by restart() so that callbacks of the loop before it do nothing. */
  private generation = 0;
  private stopped = false;
  private nextAt = 0;
  private attempts = 0;
  private wakes = 0;
  private waiters: { count: number; resolve: () => void }[] = [];

  constructor(options: SimulatedComponentOptions) {
    this.options = options;
    this.hostConfigDir = posix.dirname(posix.join(LINUX_INSTALL_ROOT, COMPONENTS[options.name].configFile));
    this.shownRegistrationFile =
      options.hostRegistrationFile ?? posix.join(this.hostConfigDir, REGISTRATION_FILE);
  }

  /** Number of heartbeats completed so far. */
  get heartbeats(): number {
    return this.wakes;
  }

  /** Starts the loop: first heartbeat one heartbeat from now. Idempotent. */
  start(): void {
    if (this.timer || this.stopped) return;
    this.nextAt = Date.now() + this.options.heartbeatSeconds * 1000;
    this.schedule();
  }

  /** Stops the loop and waits for a heartbeat in progress. The component cannot be restarted. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
    for (const w of this.waiters) w.resolve();
    this.waiters = [];
  }

  /** Resolves once `count` more heartbeats have completed (or the component is stopped). */
  waitForHeartbeats(count = 1): Promise<void> {
    if (this.stopped) return Promise.resolve();
    return new Promise((resolve) => {
      this.waiters.push({ count: this.wakes + count, resolve });
    });
  }

  /**
   * The service is restarted (Windows): the process stops after a heartbeat in progress and starts
   * again. Resolves once it runs again; its start-up work (for the Windows agent: reading the
   * registration file) follows right after, and heartbeats resume one heartbeat later.
   */
  restart(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    this.generation += 1;
    const generation = this.generation;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const previous = this.running ?? Promise.resolve();
    const startup: Promise<void> = previous
      .then(() => this.startUp())
      .catch((error: unknown) => this.log('ERROR', `Unhandled error at start-up: ${String(error)}`))
      .finally(() => {
        if (this.running === startup) this.running = undefined;
      });
    this.running = startup;
    void startup.then(() => {
      if (this.stopped || generation !== this.generation) return;
      this.nextAt = Date.now() + this.options.heartbeatSeconds * 1000;
      this.schedule();
    });
    return Promise.resolve();
  }

  private async startUp(): Promise<void> {
    this.attempts = 0;
    await this.log('INFO', 'Service stopped');
    if (!this.options.isRunning()) return;
    await this.log('INFO', 'Service started');
    if (this.options.readsRegistrationFile === 'on-start') await this.registerFromFile();
  }

  private schedule(): void {
    const delay = Math.max(0, this.nextAt - Date.now());
    const generation = this.generation;
    this.timer = setTimeout(() => {
      if (this.stopped || generation !== this.generation) return;
      const beat: Promise<void> = this.heartbeat()
        .catch((error: unknown) => this.log('ERROR', `Unhandled error in heartbeat: ${String(error)}`))
        .finally(() => {
          if (this.running === beat) this.running = undefined;
        });
      this.running = beat;
      void beat.then(() => {
        if (this.stopped || generation !== this.generation) return;
        this.nextAt += this.options.heartbeatSeconds * 1000;
        if (this.nextAt < Date.now()) this.nextAt = Date.now();
        this.schedule();
      });
    }, delay);
    this.timer.unref();
  }

  /** One heartbeat, exactly as the loop runs it. Public so tests can drive a component step by step. */
  async heartbeat(): Promise<void> {
    try {
      await this.beat();
    } finally {
      this.wakes += 1;
      const due = this.waiters.filter((w) => w.count <= this.wakes);
      this.waiters = this.waiters.filter((w) => w.count > this.wakes);
      for (const w of due) w.resolve();
    }
  }

  private async beat(): Promise<void> {
    const { options } = this;
    if (!options.isRunning()) return;
    const spec = COMPONENTS[options.name];
    let token: string | undefined;
    try {
      token = stringAt(await readConfig(options.configPath), spec.tokenPath);
    } catch (error) {
      await this.log('ERROR', `Unable to load configuration: ${(error as Error).message}`);
      return;
    }
    if (token === undefined) {
      await this.log(
        'ERROR',
        `No auth token (${spec.tokenPath.join('.')}) in configuration. The component cannot authenticate ` +
          'and must be redeployed as a new component.',
      );
      return;
    }
    let exp: number | undefined;
    try {
      const payload = decodeJwt(token);
      exp = typeof payload.exp === 'number' ? payload.exp : undefined;
    } catch {
      exp = undefined;
    }
    const margin = refreshMarginSeconds(options.heartbeatSeconds, options.tokenLifetimeSeconds);
    if (exp !== undefined && exp - Date.now() / 1000 > margin) return;

    if (exp === undefined) await this.log('ERROR', 'Unable to decode the auth token.');
    await this.log(
      'INFO',
      `Refreshing auth token which expires ${exp === undefined ? 'unknown' : kasmTime(exp)}`,
    );
    const health = await this.call('GET', '/api/__healthcheck');
    if (!health) return;
    await this.log(
      'DEBUG',
      health.status === 200
        ? `Health check return: ${pythonDict(health.body)}`
        : `Health check failed: ${health.status}`,
    );
    const refreshed = await this.call('POST', '/api/admin/refresh_token', { token });
    if (!refreshed) return;
    if (refreshed.status === 200 && typeof refreshed.body?.token === 'string') {
      if (await this.save(refreshed.body.token)) this.attempts = 0;
      return;
    }
    await this.apiError('refresh_token', refreshed, refreshed.status === 403 ? 'No response' : undefined);
    await this.log('ERROR', 'Failed to refresh auth token');
    this.attempts += 1;
    await this.log('INFO', `Attempt ${((this.attempts - 1) % MAX_ATTEMPTS) + 1} /${MAX_ATTEMPTS} attempts`);
    await this.register(token);
  }

  private async register(token: string): Promise<void> {
    if (this.options.readsRegistrationFile !== 'on-start' && (await this.registerFromFile())) return;
    const reply = await this.call('POST', '/api/admin/register_component', { token });
    if (reply) await this.apiError('register_component', reply);
  }

  /** Registers with `registration_token.txt` when it is there; false when there is no file. */
  private async registerFromFile(): Promise<boolean> {
    const { options } = this;
    const spec = COMPONENTS[options.name];
    const file = join(dirname(options.configPath), REGISTRATION_FILE);
    const shownFile = this.shownRegistrationFile;
    let registrationToken: string | undefined;
    try {
      await access(file);
      registrationToken = (await readFile(file, 'utf8')).replace(/[\r\n]+$/, '');
    } catch {
      registrationToken = undefined;
    }
    if (registrationToken === undefined) return false;
    await this.log('DEBUG', `Loaded registration token from ${shownFile}`);
    let componentId: string | undefined;
    try {
      componentId = stringAt(await readConfig(options.configPath), spec.idPath);
    } catch {
      componentId = undefined;
    }
    const reply = await this.call('POST', '/api/admin/register_component', {
      registration_token: registrationToken,
      component_type: options.name,
      ...(componentId ? { component_id: componentId } : {}),
    });
    if (!reply) return true;
    if (reply.status !== 200 || typeof reply.body?.token !== 'string') {
      await this.apiError('register_component', reply);
      return true;
    }
    if (!(await this.save(reply.body.token))) return true;
    try {
      if (options.readOnly) throw new Error(`[Errno 30] Read-only file system: '${shownFile}'`);
      await rm(file);
      await this.log('INFO', `Successfully removed registration token file at ${shownFile}`);
    } catch (error) {
      await this.log(
        'ERROR',
        `Failed to remove registration token file at ${shownFile}: ${(error as Error).message}`,
      );
    }
    this.attempts = 0;
    await this.log('INFO', 'Component registration successful');
    return true;
  }

  private async save(newToken: string): Promise<boolean> {
    const spec = COMPONENTS[this.options.name];
    let exp: number | undefined;
    try {
      const payload = decodeJwt(newToken);
      exp = typeof payload.exp === 'number' ? payload.exp : undefined;
    } catch {
      exp = undefined;
    }
    await this.log('INFO', `New auth token expires ${exp === undefined ? 'unknown' : kasmTime(exp)}`);
    try {
      await writeConfigValue(this.options.configPath, spec.tokenPath, newToken, {
        atomic: !this.options.readOnly,
      });
    } catch (error) {
      await this.log('ERROR', `Failed to save configuration changes: ${(error as Error).message}`);
      return false;
    }
    await this.log('DEBUG', 'Saved configuration changes.');
    return true;
  }

  private async apiError(endpoint: string, reply: ApiReply, error?: string): Promise<void> {
    const message =
      error ?? (typeof reply.body?.error_message === 'string' ? reply.body.error_message : 'No response');
    await this.log(
      'ERROR',
      `Error from Kasm server for api: ${this.options.apiUrl}/api/admin/${endpoint} status: ${reply.status} error: ${message}`,
    );
  }

  /** One HTTPS call to the Admin API; undefined (and a log line) when the server cannot be reached. */
  private async call(method: 'GET' | 'POST', path: string, body?: unknown): Promise<ApiReply | undefined> {
    const url = `${this.options.apiUrl}${path}`;
    try {
      return await new Promise<ApiReply>((resolve, reject) => {
        const payload = body === undefined ? undefined : JSON.stringify(body);
        const req = request(
          url,
          {
            method,
            ca: this.options.ca,
            timeout: 5000,
            agent: false,
            headers: payload
              ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) }
              : {},
          },
          (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('error', reject);
            res.on('end', () => {
              let parsed: Record<string, unknown> | undefined;
              try {
                const v: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8'));
                parsed = v && typeof v === 'object' ? (v as Record<string, unknown>) : undefined;
              } catch {
                parsed = undefined;
              }
              resolve({ status: res.statusCode ?? 0, body: parsed });
            });
          },
        );
        req.on('timeout', () => req.destroy(new Error('timed out')));
        req.on('error', reject);
        req.end(payload);
      });
    } catch (error) {
      await this.log('ERROR', `Error connecting to Kasm server for api: ${url}: ${(error as Error).message}`);
      return undefined;
    }
  }

  private async log(level: 'INFO' | 'DEBUG' | 'ERROR', message: string): Promise<void> {
    const now = new Date();
    const stamp = `${now.toISOString().replace('T', ' ').slice(0, 19)},${String(now.getUTCMilliseconds()).padStart(3, '0')}`;
    await appendFile(this.options.logPath, `${stamp} ${`[${level}]`.padEnd(7)} ${message}\n`);
  }
}

/** `{'ok': True}`: how the Python components print a JSON object. */
function pythonDict(body: Record<string, unknown> | undefined): string {
  if (!body) return 'None';
  const show = (v: unknown): string =>
    v === true
      ? 'True'
      : v === false
        ? 'False'
        : v === null
          ? 'None'
          : typeof v === 'string'
            ? `'${v}'`
            : String(v);
  return `{${Object.entries(body)
    .map(([k, v]) => `'${k}': ${show(v)}`)
    .join(', ')}}`;
}
