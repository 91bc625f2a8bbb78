/**
 * A simulated Kasm component (the Linux agent, guac, RDP gateway, RDP HTTPS gateway, or the Windows
 * agent): an in-process heartbeat loop, first at start + heartbeat, then every heartbeat, that can be
 * stopped, restarted like a service, and waited on. What it does on each heartbeat and when its service
 * starts is Kasm's (component-rules.ts).
 *
 * @example
 * ```ts
 * const c = new SimulatedComponent({ ...options });
 * c.start();
 * await c.waitForHeartbeats(2);
 * await c.stop();
 * ```
 */
import { posix } from 'node:path';
import { COMPONENTS, type ComponentName, LINUX_INSTALL_ROOT, REGISTRATION_FILE } from './catalog.ts';
import { ComponentLog } from './component-log.ts';
import { ComponentRules } from './component-rules.ts';

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

export class SimulatedComponent {
  readonly options: SimulatedComponentOptions;
  /** The directory and registration file as the host sees them (for log lines). */
  readonly hostConfigDir: string;
  private readonly log: ComponentLog;
  private readonly rules: ComponentRules;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  /** Bumped by restart() so that callbacks of the loop before it do nothing. */
  private generation = 0;
  private stopped = false;
  private nextAt = 0;
  private wakes = 0;
  private waiters: { count: number; resolve: () => void }[] = [];

  constructor(options: SimulatedComponentOptions) {
    this.options = options;
    this.hostConfigDir = posix.dirname(posix.join(LINUX_INSTALL_ROOT, COMPONENTS[options.name].configFile));
    this.log = new ComponentLog(options.logPath);
    this.rules = new ComponentRules(
      options,
      this.log,
      options.hostRegistrationFile ?? posix.join(this.hostConfigDir, REGISTRATION_FILE),
    );
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
      .then(() => this.rules.startUp())
      .catch((error: unknown) => this.log.write('ERROR', `Unhandled error at start-up: ${String(error)}`))
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

  private schedule(): void {
    const delay = Math.max(0, this.nextAt - Date.now());
    const generation = this.generation;
    this.timer = setTimeout(() => {
      if (this.stopped || generation !== this.generation) return;
      const beat: Promise<void> = this.heartbeat()
        .catch((error: unknown) => this.log.write('ERROR', `Unhandled error in heartbeat: ${String(error)}`))
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
      await this.rules.beat();
    } finally {
      this.wakes += 1;
      const due = this.waiters.filter((w) => w.count <= this.wakes);
      this.waiters = this.waiters.filter((w) => w.count > this.wakes);
      for (const w of due) w.resolve();
    }
  }
}
