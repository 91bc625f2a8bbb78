/**
 * The fleet core every host model shares: each host as EC2 and SSM see it, whatever runs its steps.
 * An instance is powered (`state`), switched on or off (`online`), its agent checks in a while after
 * a start and may stop answering (`goesOfflineAfterSeconds`); the scenario's timers play that out.
 * The host models (scripts in fleet.ts, a model in modelled-fleet.ts, the real SSM Agent) only say
 * what happens on the host when it starts or stops running, through the hooks.
 */
import type { FleetTag } from '../../shared/settings.ts';
import type { AwsTiming } from './aws-timing.ts';
import { agentCheckInSeconds, computerName, FleetTimers, hostById, ipAddress } from './fleet-common.ts';
import type { HostScenario } from './scenario.ts';
import type { InstanceState, SimulatedNode } from './types.ts';

/** A host's instance and agent, as the lifecycle keeps them. */
export interface Instance {
  readonly scenario: HostScenario;
  readonly index: number;
  /** Switched on (scenario `online`, `setOnline`). */
  online: boolean;
  /** EC2 state now: a `startsAfterSeconds` host goes from stopped to running on its own. */
  state: InstanceState;
  /** False while a just-started host's agent has not checked in yet. */
  agentCheckedIn: boolean;
  /** When the agent stopped answering (`goesOfflineAfterSeconds`); ConnectionLost from then on. */
  agentLostAt: Date | undefined;
}

/** An instance as the scenario starts it. */
export function initialInstance(scenario: HostScenario, index: number): Instance {
  return {
    scenario,
    index,
    online: scenario.online,
    state: scenario.state,
    agentCheckedIn: scenario.startsAfterSeconds === undefined,
    agentLostAt: undefined,
  };
}

/** What a host model does when the lifecycle changes one of its hosts. */
export interface LifecycleHooks<E extends Instance> {
  /** The host starts running (powered and switched on), or stops: components and agents follow. */
  running(e: E, runs: boolean): void;
  /** The instance left `running` (stopped or terminated), whether or not the fleet was started. */
  left?(e: E): void;
  /** The agent stops answering; the host and its components keep running. */
  agentDropped?(e: E): void;
  /** Anything SSM or EC2 shows of the host may have changed (modelled fleets cache their nodes). */
  changed?(e: E): void;
}

export class InstanceLifecycle<E extends Instance> {
  private started = false;
  private stopping = false;
  private readonly timers = new FleetTimers();

  constructor(
    private readonly hosts: ReadonlyMap<string, E>,
    private readonly timing: AwsTiming,
    private readonly hooks: LifecycleHooks<E>,
  ) {}

  entry(id: string): E {
    return hostById(this.hosts, id);
  }

  /** Components and steps run only on a powered (`running`) host that is switched on (`online`). */
  runs(e: Instance): boolean {
    return e.online && e.state === 'running';
  }

  get isStopping(): boolean {
    return this.stopping;
  }

  /** The host a step is for; an error on a stopped fleet or a host that does not run. */
  hostForStep(id: string): E {
    const e = this.entry(id);
    if (this.stopping) throw new Error('The simulated fleet is stopped');
    if (!this.runs(e)) throw new Error(`runStep called for offline host ${id}`);
    return e;
  }

  /** Starts every running host and the scenario's timers (starts, agents that stop answering). */
  start(): void {
    if (this.started || this.stopping) return;
    this.started = true;
    for (const e of this.hosts.values()) {
      if (this.runs(e)) this.hooks.running(e, true);
      const { startsAfterSeconds, goesOfflineAfterSeconds } = e.scenario;
      if (startsAfterSeconds !== undefined)
        this.timers.after(startsAfterSeconds, () => this.setState(e.scenario.id, 'running'));
      if (goesOfflineAfterSeconds !== undefined)
        this.timers.after(goesOfflineAfterSeconds, () => this.dropAgent(e.scenario.id));
    }
  }

  /** No timer fires and no hook runs from now on. */
  stop(): void {
    this.stopping = true;
    this.timers.stop();
  }

  private live(): boolean {
    return this.started && !this.stopping;
  }

  setOnline(id: string, online: boolean): void {
    const e = this.entry(id);
    if (e.online === online) return;
    e.online = online;
    this.hooks.changed?.(e);
    if (this.live()) this.hooks.running(e, this.runs(e));
  }

  /** Stops, starts or terminates an instance now; its agent checks in again a while after a start. */
  setState(id: string, state: InstanceState): void {
    const e = this.entry(id);
    if (e.state === state) return;
    e.state = state;
    if (state !== 'running') {
      e.agentCheckedIn = false;
      this.hooks.changed?.(e);
      if (this.live()) this.hooks.running(e, false);
      this.hooks.left?.(e);
      return;
    }
    this.hooks.changed?.(e);
    if (this.live() && this.runs(e)) this.hooks.running(e, true);
    this.timers.after(agentCheckInSeconds(this.timing), () => {
      e.agentCheckedIn = true;
      this.hooks.changed?.(e);
    });
  }

  dropAgent(id: string): void {
    const e = this.entry(id);
    e.agentLostAt ??= new Date();
    this.hooks.agentDropped?.(e);
    this.hooks.changed?.(e);
  }
}

/** What every host model's Fleet does the same way: instances and agents change through the lifecycle. */
export abstract class LifecycleFleet<E extends Instance> {
  protected abstract readonly lifecycle: InstanceLifecycle<E>;

  protected entry(id: string): E {
    return this.lifecycle.entry(id);
  }

  dropAgent(id: string): void {
    this.lifecycle.dropAgent(id);
  }

  setOnline(id: string, online: boolean): void {
    this.lifecycle.setOnline(id, online);
  }

  setState(id: string, state: InstanceState): void {
    this.lifecycle.setState(id, state);
  }
}

/** What SSM knows of an agent that follows the scenario's timing and `agentVersion` (no real agent). */
export function scheduledAgent(
  e: Instance,
  runs: boolean,
): Pick<SimulatedNode, 'online' | 'agentVersion' | 'lastPingAt'> {
  return {
    online: runs && e.agentCheckedIn && e.agentLostAt === undefined,
    agentVersion: e.scenario.agentVersion,
    ...(e.agentLostAt === undefined ? {} : { lastPingAt: e.agentLostAt }),
  };
}

/** The node SSM and EC2 show for a host: its names, address, tags and what its agent reports. */
export function nodeOf(
  e: Instance,
  fleetTag: FleetTag,
  agent: Pick<SimulatedNode, 'online' | 'agentVersion' | 'lastPingAt'>,
): SimulatedNode {
  return {
    instanceId: e.scenario.id,
    platform: e.scenario.platform,
    ...agent,
    state: e.state,
    tags: {
      Name: `kasm-${e.scenario.platform.toLowerCase()}-${e.index + 1}`,
      ...(e.scenario.managed ? { [fleetTag.key]: fleetTag.value } : {}),
    },
    computerName: computerName(e.scenario, e.index),
    ipAddress: ipAddress(e.index),
  };
}
