/**
 * What a simulated Kasm component does on a heartbeat and when its service starts, following the rules
 * in test/proving-ground/README.md. It works on the host's files from outside the host's namespace and
 * calls the Admin API (admin-client.ts); component.ts runs it on a timer.
 *
 * On each heartbeat:
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
 * for the file on a heartbeat: only when its service starts ({@link ComponentRules.startUp}) does it
 * read the file, register, save its config and delete the file.
 */
import { access, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { decodeJwt } from 'jose';
import { type ApiReply, callAdminApi } from './admin-client.ts';
import { COMPONENTS, REGISTRATION_FILE } from './catalog.ts';
import type { SimulatedComponentOptions } from './component.ts';
import { type ComponentLog, kasmTime, pythonDict } from './component-log.ts';
import { readConfig, readRegularFile, stringAt, writeConfigValue } from './config-file.ts';

/**
 * How long before `exp` a component refreshes its token: max(2 heartbeats, half the token
 * lifetime). Two heartbeats so that a token is never left to lapse between two wakes; half the
 * lifetime so that, with a long lifetime, a "valid" token is left alone for a good while.
 */
export function refreshMarginSeconds(heartbeatSeconds: number, tokenLifetimeSeconds: number): number {
  return Math.max(2 * heartbeatSeconds, tokenLifetimeSeconds / 2);
}

const MAX_ATTEMPTS = 10;

export class ComponentRules {
  private attempts = 0;

  /** `shownRegistrationFile`: the registration file as the host names it, for log lines. */
  constructor(
    private readonly options: SimulatedComponentOptions,
    private readonly log: ComponentLog,
    private readonly shownRegistrationFile: string,
  ) {}

  /** The service (re)starts: for the Windows agent, this is when it reads the registration file. */
  async startUp(): Promise<void> {
    this.attempts = 0;
    await this.log.write('INFO', 'Service stopped');
    if (!this.options.isRunning()) return;
    await this.log.write('INFO', 'Service started');
    if (this.options.readsRegistrationFile === 'on-start') await this.registerFromFile();
  }

  /** One heartbeat. */
  async beat(): Promise<void> {
    const { options } = this;
    if (!options.isRunning()) return;
    const spec = COMPONENTS[options.name];
    let token: string | undefined;
    try {
      token = stringAt(await readConfig(options.configPath), spec.tokenPath);
    } catch (error) {
      await this.log.write('ERROR', `Unable to load configuration: ${(error as Error).message}`);
      return;
    }
    if (token === undefined) {
      await this.log.write(
        'ERROR',
        `No auth token (${spec.tokenPath.join('.')}) in configuration. The component cannot authenticate ` +
          'and must be redeployed as a new component.',
      );
      return;
    }
    const exp = expOf(token);
    const margin = refreshMarginSeconds(options.heartbeatSeconds, options.tokenLifetimeSeconds);
    if (exp !== undefined && exp - Date.now() / 1000 > margin) return;

    if (exp === undefined) await this.log.write('ERROR', 'Unable to decode the auth token.');
    await this.log.write(
      'INFO',
      `Refreshing auth token which expires ${exp === undefined ? 'unknown' : kasmTime(exp)}`,
    );
    const health = await this.call('GET', '/api/__healthcheck');
    if (!health) return;
    await this.log.write(
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
    await this.log.write('ERROR', 'Failed to refresh auth token');
    this.attempts += 1;
    await this.log.write(
      'INFO',
      `Attempt ${((this.attempts - 1) % MAX_ATTEMPTS) + 1} /${MAX_ATTEMPTS} attempts`,
    );
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
      registrationToken = (await readRegularFile(file)).replace(/[\r\n]+$/, '');
    } catch {
      registrationToken = undefined;
    }
    if (registrationToken === undefined) return false;
    await this.log.write('DEBUG', `Loaded registration token from ${shownFile}`);
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
      await this.log.write('INFO', `Successfully removed registration token file at ${shownFile}`);
    } catch (error) {
      await this.log.write(
        'ERROR',
        `Failed to remove registration token file at ${shownFile}: ${(error as Error).message}`,
      );
    }
    this.attempts = 0;
    await this.log.write('INFO', 'Component registration successful');
    return true;
  }

  private async save(newToken: string): Promise<boolean> {
    const spec = COMPONENTS[this.options.name];
    const exp = expOf(newToken);
    await this.log.write('INFO', `New auth token expires ${exp === undefined ? 'unknown' : kasmTime(exp)}`);
    try {
      await writeConfigValue(this.options.configPath, spec.tokenPath, newToken, {
        atomic: !this.options.readOnly,
      });
    } catch (error) {
      await this.log.write('ERROR', `Failed to save configuration changes: ${(error as Error).message}`);
      return false;
    }
    await this.log.write('DEBUG', 'Saved configuration changes.');
    return true;
  }

  private async apiError(endpoint: string, reply: ApiReply, error?: string): Promise<void> {
    const message =
      error ?? (typeof reply.body?.error_message === 'string' ? reply.body.error_message : 'No response');
    await this.log.write(
      'ERROR',
      `Error from Kasm server for api: ${this.options.apiUrl}/api/admin/${endpoint} status: ${reply.status} error: ${message}`,
    );
  }

  /** One HTTPS call to the Admin API; undefined (and a log line) when the server cannot be reached. */
  private async call(method: 'GET' | 'POST', path: string, body?: unknown): Promise<ApiReply | undefined> {
    const url = `${this.options.apiUrl}${path}`;
    try {
      return await callAdminApi(url, this.options.ca, method, body);
    } catch (error) {
      await this.log.write(
        'ERROR',
        `Error connecting to Kasm server for api: ${url}: ${(error as Error).message}`,
      );
      return undefined;
    }
  }
}

/** `exp` of a token as the component decodes it (no signature check); undefined when it does not decode. */
function expOf(token: string): number | undefined {
  try {
    const payload = decodeJwt(token);
    return typeof payload.exp === 'number' ? payload.exp : undefined;
  } catch {
    return undefined;
  }
}
