/**
 * What the two fleets share (fleet.ts, hosts that run the real scripts; modelled-fleet.ts, hosts that
 * answer from a model): timers that end with the fleet, finding a host by id, when an agent checks
 * in, and how hosts are named and addressed.
 */
import type { AwsTiming } from './aws-timing.ts';
import type { HostScenario } from './scenario.ts';

/**
 * Seconds from an instance reaching `running` to its SSM Agent checking in (PingStatus Online). Real
 * agents take some tens of seconds after boot (test/proving-ground/README.md); the proving ground keeps it
 * short but non-zero so a product that does not wait for check-in is caught.
 */
export const AGENT_CHECK_IN_SECONDS = 3;

/** Seconds from boot to check-in: with awsTiming, 30-60 real seconds (aws-timing.ts), compressed. */
export function agentCheckInSeconds(timing: AwsTiming): number {
  return timing.enabled ? timing.ms('agentCheckIn') / 1000 : AGENT_CHECK_IN_SECONDS;
}

/** Timers that end with the fleet: once stop() is called, no action of theirs runs. */
export class FleetTimers {
  private readonly timers = new Set<NodeJS.Timeout>();
  private stopped = false;

  /** Runs `action` in `seconds`, unless the fleet stops first. */
  after(seconds: number, action: () => void): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (!this.stopped) action();
    }, seconds * 1000);
    this.timers.add(timer);
  }

  /** Cancels every timer. */
  stop(): void {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }
}

/** The fleet's entry for host `id`; an error when the fleet has no such host. */
export function hostById<T>(hosts: ReadonlyMap<string, T>, id: string): T {
  const e = hosts.get(id);
  if (!e) throw new Error(`No simulated host ${id}`);
  return e;
}

/** The private IP address of the fleet's `index`th host. */
export function ipAddress(index: number): string {
  return `10.0.${1 + Math.floor(index / 200)}.${10 + (index % 200)}`;
}

/** The host's name as SSM reports it (ComputerName): EC2's default names, or an on-premises one for `mi-`. */
export function computerName(host: HostScenario, index: number): string {
  if (host.platform === 'Windows') {
    return `EC2AMAZ-${host.id.slice(-7).toUpperCase()}`;
  }
  if (host.id.startsWith('mi-')) return `kasm-onprem-${index + 1}`;
  return `ip-${ipAddress(index).replaceAll('.', '-')}.ec2.internal`;
}

/** A file mode as octal text, e.g. `0600`. */
export function octal(mode: number): string {
  return `0${(mode & 0o777).toString(8).padStart(3, '0')}`;
}
