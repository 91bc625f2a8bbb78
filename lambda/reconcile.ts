/**
 * One reconcile pass, level-triggered: look at the fleet as it is, move each component
 * one step toward healthy, remember nothing. Steps: inventory, observe, decide, prepare
 * (sealing keys, only where delivery is planned), deliver (which also confirms), report.
 */
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { SSMClient } from '@aws-sdk/client-ssm';
import { type ComponentName, componentsFor, type Platform } from '../shared/catalog.ts';
import type { ReconcilerConfig } from '../shared/config.ts';
import type { ReconcileRequest } from '../shared/event-schema.ts';
import {
  type ComponentSighting,
  type Parsed,
  type ProbeReport,
  type PushReport,
  parseProbeOutput,
  parsePushOutput,
} from '../shared/host-report.ts';
import {
  type ComponentStatus,
  type Decision,
  decide,
  judgeDelivery,
  type KasmApiHealth,
  type Policy,
} from '../shared/token-rules.ts';
import { CommandRunner, type InvocationResult } from './command-runner.ts';
import { sleep } from './concurrency.ts';
import { listManagedNodes, type ManagedNode } from './inventory.ts';
import type { KasmHealthResult } from './kasm-health.ts';
import { registerSecret } from './redaction.ts';
import { readRegistrationToken, type SecretRead } from './registration-secret.ts';
import {
  type ComponentReport,
  type HostReport,
  isoFromEpochSeconds,
  type RunReport,
  totalsOf,
} from './report.ts';
import { SealError, sealFor } from './seal.ts';

export interface ReconcileDeps {
  readonly config: ReconcilerConfig;
  readonly ssm: SSMClient;
  readonly secrets: SecretsManagerClient;
  readonly checkKasm: () => Promise<KasmHealthResult>;
  readonly log: {
    info(message: string, extra?: object): void;
    warn(message: string, extra?: object): void;
  };
  readonly runId: string;
  /** Epoch ms by which the run must stop starting work. */
  readonly deadlineAt: number;
  readonly now?: () => number;
}

type HostOutcome = Map<ComponentName, ComponentReport>;

/** Why a host's answer to a command cannot be used. */
interface Unusable {
  readonly unusable: true;
  readonly status: 'failed' | 'unreachable';
  readonly reason: string;
}

function isUnusable<T extends object>(value: T | Unusable): value is Unusable {
  return 'unusable' in value;
}

/** Interprets one invocation: the parsed report, or why there is none. */
function interpret<T extends object>(
  result: InvocationResult | undefined,
  parse: (output: string) => Parsed<T>,
  step: string,
): T | Unusable {
  const unusable = (status: Unusable['status'], reason: string): Unusable => ({
    unusable: true,
    status,
    reason,
  });
  if (!result) return unusable('failed', `the ${step} command returned no result for this host`);
  if (result.kind === 'unreachable') {
    return unusable('unreachable', `the ${step} command could not be delivered (${result.detail})`);
  }
  if (result.kind === 'failed') return unusable('failed', `${step}: ${result.detail}`);
  const parsed = parse(result.output);
  if (parsed.ok) return parsed.value;
  const exit = result.succeeded ? '' : ' (the script failed)';
  return unusable('failed', `the ${step} output from this host was not understood${exit}: ${parsed.problem}`);
}

class Run {
  readonly #d: ReconcileDeps;
  readonly #now: () => number;
  readonly #policy: Policy;
  readonly #runner: CommandRunner;
  readonly errors: string[] = [];
  readonly outcomes = new Map<string, { node: ManagedNode; components: HostOutcome; reason?: string }>();

  constructor(deps: ReconcileDeps) {
    this.#d = deps;
    this.#now = deps.now ?? Date.now;
    this.#policy = {
      gracePeriodSeconds: deps.config.gracePeriodSeconds,
      stuckAfterSeconds: deps.config.stuckAfterSeconds,
    };
    this.#runner = new CommandRunner(deps.ssm, {
      pollIntervalMs: deps.config.pollIntervalMs,
      maxParallelCommands: deps.config.maxParallelCommands,
      now: this.#now,
    });
  }

  get nowSeconds(): number {
    return Math.floor(this.#now() / 1000);
  }

  /** Marks every catalog component of a host that could not be examined. */
  wholeHost(node: ManagedNode, status: ComponentStatus, reason: string): void {
    const components: HostOutcome = new Map();
    for (const c of componentsFor(node.platform)) components.set(c.name, { name: c.name, status, reason });
    this.outcomes.set(node.instanceId, { node, components, reason });
  }

  set(node: ManagedNode, report: ComponentReport): void {
    let entry = this.outcomes.get(node.instanceId);
    if (!entry) {
      entry = { node, components: new Map() };
      this.outcomes.set(node.instanceId, entry);
    }
    entry.components.set(report.name, report);
  }

  async inventory(request: ReconcileRequest): Promise<ManagedNode[]> {
    const { config, ssm, log } = this.#d;
    let inventory = await listManagedNodes(ssm, config.fleetTag, request.instanceIds);
    if (request.waitForOnline && request.instanceIds) {
      // A fleet instance stays listed (ConnectionLost) while stopped: wait for its agent to
      // come Online. Start events cover every instance in the account, so one that is not
      // listed is outside the fleet (or brand new; the schedule takes it) and is not waited for.
      const requested = new Set(request.instanceIds);
      const waitUntil = Math.min(this.#now() + config.onlineWaitSeconds * 1000, this.#d.deadlineAt);
      const step = Math.max(config.pollIntervalMs, 1000);
      const waiting = () => inventory.nodes.some((n) => !n.online && requested.has(n.instanceId));
      while (waiting() && this.#now() + step <= waitUntil) {
        await sleep(step);
        inventory = await listManagedNodes(ssm, config.fleetTag, request.instanceIds);
      }
    }
    for (const id of inventory.unsupported) {
      this.errors.push(
        `${id} carries the fleet tag but runs a platform other than Linux or Windows; it was skipped.`,
      );
    }
    // Named by an operator, a host outside the fleet is worth a sentence; started, it is not.
    if (request.instanceIds && request.trigger !== 'instance-start') {
      const found = new Set(inventory.nodes.map((n) => n.instanceId).concat(inventory.unsupported));
      const missing = request.instanceIds.filter((id) => !found.has(id));
      if (missing.length > 0) {
        this.errors.push(
          `${missing.length} requested instance(s) are not SSM managed nodes carrying the fleet tag ` +
            `${config.fleetTag.key}=${config.fleetTag.value}, so they were not touched: ${missing.slice(0, 20).join(', ')}` +
            (missing.length > 20 ? ', …' : '.'),
        );
      }
    }
    log.info('inventory', {
      managed: inventory.nodes.length,
      online: inventory.nodes.filter((n) => n.online).length,
    });
    return [...inventory.nodes];
  }

  /** Sends the probe; returns what each host reported, or why its answer is unusable. */
  async probe(
    nodes: readonly ManagedNode[],
    keyPair: 'none' | 'create',
  ): Promise<Map<string, ProbeReport | Unusable>> {
    const { config } = this.#d;
    const results = await this.#runner.run({
      documentName: config.documents.probe,
      instanceIds: nodes.map((n) => n.instanceId),
      parametersFor: () => ({
        InstallRoot: [config.installRoot],
        RunId: [this.#d.runId],
        KeyPair: [keyPair],
        ...this.windowsParameters(),
      }),
      comment: `kasm-token-reconciler ${this.#d.runId} ${keyPair === 'create' ? 'prepare' : 'observe'}`,
      deadlineAt: this.#d.deadlineAt,
    });
    const step = keyPair === 'create' ? 'prepare' : 'probe';
    return new Map(
      nodes.map((n) => [n.instanceId, interpret(results.get(n.instanceId), parseProbeOutput, step)]),
    );
  }

  windowsParameters(): Record<string, string[]> {
    const { config } = this.#d;
    return {
      WindowsInstallDir: [config.windowsInstallDir],
      WindowsServiceName: [config.windowsServiceName],
    };
  }

  decideAll(report: ProbeReport): Map<ComponentName, Decision & { sighting: ComponentSighting }> {
    const decisions = new Map<ComponentName, Decision & { sighting: ComponentSighting }>();
    for (const sighting of report.components) {
      decisions.set(sighting.name, { ...decide(sighting, this.nowSeconds, this.#policy), sighting });
    }
    return decisions;
  }

  async deliver(
    plans: Map<string, { node: ManagedNode; components: ComponentName[] }>,
    token: string,
  ): Promise<void> {
    const { config, log } = this.#d;
    // Keys are made only now, on the hosts that need them, so a healthy host keeps no key.
    const prepared = await this.probe(
      [...plans.values()].map((p) => p.node),
      'create',
    );
    const sealed = new Map<string, string>();
    for (const [id, report] of prepared) {
      const plan = plans.get(id);
      if (!plan) continue;
      const { node } = plan;
      if (isUnusable(report)) {
        // Only the planned components are affected; the first probe's findings stand.
        for (const name of plan.components)
          this.set(node, { name, status: report.status, reason: report.reason });
        continue;
      }
      // Re-decide from the fresh look: a component may have recovered meanwhile.
      const fresh = this.decideAll(report);
      const still: ComponentName[] = [];
      for (const name of plan.components) {
        const decision = fresh.get(name);
        if (!decision) {
          this.set(node, { name, status: 'failed', reason: 'the component disappeared between probes' });
        } else if (decision.action === 'deliver') {
          still.push(name);
        } else {
          this.set(node, this.reportOf(name, decision));
        }
      }
      if (still.length === 0) continue;
      const key = report.sealingKey;
      if (!report.opensslAvailable || !key || key.kind !== 'ready') {
        const reason = !report.opensslAvailable
          ? 'openssl is not installed on the host, so the registration token cannot be sealed to it'
          : `the host could not make a sealing key (${key?.kind === 'error' ? key.reason : 'no key returned'})`;
        for (const name of still) this.set(node, { name, status: 'failed', reason });
        continue;
      }
      try {
        sealed.set(id, `${id}:${still.join('+')}:${sealFor(key.spkiDerBase64, token)}`);
        plan.components = still;
      } catch (error) {
        const reason = error instanceof SealError ? error.message : 'sealing failed';
        for (const name of still) this.set(node, { name, status: 'failed', reason });
      }
    }
    if (sealed.size === 0) return;

    const remainingSeconds = Math.floor((this.#d.deadlineAt - this.#now()) / 1000) - 15;
    const waitSeconds = Math.max(0, Math.min(config.confirmWaitSeconds, remainingSeconds));
    log.info('deliver', { hosts: sealed.size, waitSeconds });
    const results = await this.#runner.run({
      documentName: config.documents.push,
      instanceIds: [...sealed.keys()],
      parametersFor: (batch) => ({
        InstallRoot: [config.installRoot],
        RunId: [this.#d.runId],
        Deliveries: [batch.map((id) => sealed.get(id)).join(' ')],
        WaitSeconds: [String(waitSeconds)],
        NotAfter: [String(Math.floor(this.#d.deadlineAt / 1000) + waitSeconds)],
        ...this.windowsParameters(),
      }),
      comment: `kasm-token-reconciler ${this.#d.runId} deliver`,
      deadlineAt: Math.max(this.#d.deadlineAt, this.#now() + (waitSeconds + 30) * 1000),
    });
    for (const id of sealed.keys()) {
      const plan = plans.get(id);
      if (!plan) continue;
      this.judgePush(plan.node, plan.components, results.get(id));
    }
  }

  judgePush(
    node: ManagedNode,
    components: readonly ComponentName[],
    result: InvocationResult | undefined,
  ): void {
    let push: PushReport | undefined;
    let problem = 'the push returned no result';
    if (result?.kind === 'output') {
      const parsed = parsePushOutput(result.output, components);
      if (parsed.ok) push = parsed.value;
      else problem = `the push output was not understood: ${parsed.problem}`;
    } else if (result) {
      problem = `the push ${result.kind === 'unreachable' ? 'could not be delivered' : 'failed'} (${result.detail})`;
    }
    for (const name of components) {
      const outcome = push?.outcomes.find((o) => (o.kind === 'written' ? o.after.name : o.name) === name);
      if (!outcome) {
        const status = result?.kind === 'unreachable' ? 'unreachable' : 'failed';
        this.set(node, {
          name,
          status,
          reason: push ? 'the push did not report on this component' : problem,
        });
        continue;
      }
      const verdict = judgeDelivery(outcome, this.nowSeconds, this.#policy);
      this.set(node, {
        name,
        status: verdict.status,
        ...(verdict.expiresAt === undefined
          ? {}
          : { tokenExpiresAt: isoFromEpochSeconds(verdict.expiresAt) }),
        ...(verdict.reason ? { reason: verdict.reason } : {}),
        ...(verdict.restarted ? { restarted: true } : {}),
      });
    }
  }

  reportOf(
    name: ComponentName,
    decision: Decision,
    status?: ComponentStatus,
    reason?: string,
  ): ComponentReport {
    const expires = isoFromEpochSeconds(decision.expiresAt);
    const why = reason ?? (decision.action === 'none' ? decision.reason : undefined);
    return {
      name,
      status: status ?? (decision.action === 'none' ? decision.status : 'failed'),
      ...(expires ? { tokenExpiresAt: expires } : {}),
      ...(why ? { reason: why } : {}),
    };
  }
}

/** Runs one reconcile pass and returns its report; throws only on programming errors. */
export async function reconcile(request: ReconcileRequest, deps: ReconcileDeps): Promise<RunReport> {
  const now = deps.now ?? Date.now;
  const started = now();
  const run = new Run(deps);
  const { config, log } = deps;

  // Independent reads first, concurrently: secret, API health, inventory.
  const secretPromise: Promise<SecretRead> = readRegistrationToken(
    deps.secrets,
    config.secretId,
    config.secretJsonField,
  );
  const healthPromise = deps.checkKasm();
  let nodes: ManagedNode[] = [];
  let ok = true;
  try {
    nodes = await run.inventory(request);
  } catch (error) {
    ok = false;
    run.errors.push(
      `Listing the managed nodes failed (${error instanceof Error ? error.name : 'error'}); nothing was done.`,
    );
  }
  const secret = await secretPromise;
  if (secret.ok) registerSecret(secret.token);
  else {
    ok = false;
    run.errors.push(`${secret.problem} Nothing was delivered.`);
  }
  const health = await healthPromise;
  if (health.health === 'unhealthy') {
    run.errors.push(
      `The Kasm Admin API is unhealthy (${health.detail ?? 'no detail'}); deliveries are deferred.`,
    );
  }

  for (const node of nodes) {
    if (!node.online)
      run.wholeHost(node, 'unreachable', `the host is offline (SSM PingStatus ${node.pingStatus})`);
  }
  const online = nodes.filter((n) => n.online);
  let probes = new Map<string, ProbeReport | Unusable>();
  if (now() < deps.deadlineAt) {
    if (online.length > 0) probes = await run.probe(online, 'none');
  } else {
    for (const node of online) {
      run.wholeHost(
        node,
        'failed',
        'the run reached its deadline before this host was probed; the next run will',
      );
    }
  }

  const plans = new Map<string, { node: ManagedNode; components: ComponentName[] }>();
  for (const node of online) {
    const report = probes.get(node.instanceId);
    if (!report) continue;
    if (isUnusable(report)) {
      run.wholeHost(node, report.status, report.reason);
      continue;
    }
    if (report.components.length === 0) run.outcomes.set(node.instanceId, { node, components: new Map() });
    for (const [name, decision] of run.decideAll(report)) {
      if (decision.action === 'none') {
        run.set(node, run.reportOf(name, decision));
        continue;
      }
      const blocked = blockedDelivery(request.dryRun, secret, health.health, report.opensslAvailable);
      if (blocked) {
        run.set(node, run.reportOf(name, decision, blocked.status, blocked.reason));
        continue;
      }
      const plan = plans.get(node.instanceId) ?? { node, components: [] };
      plan.components.push(name);
      plans.set(node.instanceId, plan);
    }
  }

  if (plans.size > 0 && secret.ok) {
    if (now() < deps.deadlineAt) await run.deliver(plans, secret.token);
    else {
      for (const { node, components } of plans.values()) {
        for (const name of components) {
          run.set(node, {
            name,
            status: 'failed',
            reason: 'the run reached its deadline before delivery; the next run will',
          });
        }
      }
    }
  }

  const hosts: HostReport[] = [...run.outcomes.values()]
    .sort((a, b) => a.node.instanceId.localeCompare(b.node.instanceId))
    .map(({ node, components, reason }) => ({
      instanceId: node.instanceId,
      platform: node.platform as Platform,
      components: [...components.values()].sort((a, b) => a.name.localeCompare(b.name)),
      ...(reason ? { reason } : {}),
    }));
  const report: RunReport = {
    ok,
    dryRun: request.dryRun,
    runId: deps.runId,
    trigger: request.trigger,
    startedAt: new Date(started).toISOString(),
    durationMs: now() - started,
    kasmApi: health.health,
    totals: totalsOf(hosts),
    hosts,
    errors: run.errors,
  };
  log.info('run finished', { totals: report.totals, hosts: hosts.length, ok, durationMs: report.durationMs });
  return report;
}

/** Why a needed delivery is not made in this run, if it is not. */
function blockedDelivery(
  dryRun: boolean,
  secret: SecretRead,
  kasmApi: KasmApiHealth,
  opensslAvailable: boolean,
): { status: ComponentStatus; reason: string } | undefined {
  // Report what a real run would do: an unhealthy API or an unusable secret blocks it too.
  if (kasmApi === 'unhealthy') {
    return {
      status: 'deferred',
      reason: 'the Kasm Admin API is unhealthy; delivery waits for a healthy API',
    };
  }
  if (!secret.ok)
    return { status: 'failed', reason: 'the registration token secret is unusable (see errors)' };
  if (!opensslAvailable) {
    return {
      status: 'failed',
      reason: 'openssl is not installed on the host, so the registration token cannot be sealed to it',
    };
  }
  if (dryRun)
    return {
      status: 'would-push',
      reason: 'token expired past the grace period; dry run, nothing delivered',
    };
  return undefined;
}
