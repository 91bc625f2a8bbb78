/**
 * An in-memory fleet behind the FleetApi, for unit tests of the reconcile loop without the
 * proving ground (as controller-runtime tests reconcilers with its fake client). Hosts
 * answer the documents in the scripts' own line protocol (shared/documents/README.md), from
 * a small model; sealed tokens are opened with real RSA keys.
 */
import { constants, generateKeyPairSync, type KeyObject, privateDecrypt } from 'node:crypto';
import type {
  CommandSent,
  DocumentRun,
  FleetApi,
  FleetListing,
  HistoryQuery,
  InvocationResult,
  ManagedNode,
} from '../../lambda/fleet-api.ts';
import type { ComponentName, Platform } from '../../shared/catalog.ts';
import { answer, deliveryFor, type PushAnswer, probeLines, pushLines } from '../../shared/host-protocol.ts';
import type { ComponentSighting, ProbeReport, PushOutcome } from '../../shared/host-report.ts';
import { segments } from './jwt-fixtures.ts';

export interface ModelComponent {
  /** Token expiry (epoch s), or a config without a token, or one that is not a JWT. */
  token: number | 'none' | 'garbage';
  /** Age of a waiting registration_token.txt, or null. */
  registrationFileAge: number | null;
  /** Whether the component reads a delivered file (it then holds a token valid for an hour). */
  consumes: boolean;
  /** What the push wrote beside this component, if anything. */
  received?: string;
}

export interface ModelHost {
  readonly id: string;
  readonly platform: Platform;
  online: boolean;
  agentVersion: string;
  /** Not in the fleet listing at all (stopped, or not yet checked in). */
  listed: boolean;
  /** Carries the fleet tag in EC2 (for instance-start runs). */
  ec2Tagged: boolean;
  /** How far the host's clock is ahead of the function's (negative: behind). */
  clockSkewSeconds: number;
  canUnseal: boolean;
  /** Answers every document with this instead (e.g. an undelivered command). */
  answer?: InvocationResult;
  readonly components: Map<ComponentName, ModelComponent>;
  key?: KeyObject;
}

export interface RecordedRun {
  readonly role: 'probe' | 'push';
  readonly instanceIds: readonly string[];
  readonly parameters: Record<string, string[]>;
  readonly documentVersion: string;
  readonly comment: DocumentRun['comment'];
}

/**
 * Hosts take their sealing keys from a small pool: generating a fresh RSA-2048 key per delivery
 * made the 120-host test spend seconds in key generation, which mutation testing pays per mutant.
 * Reuse is harmless here: each push still unseals with the key its host was last given.
 */
const keyPool: { publicDer: string; privateKey: KeyObject }[] = [];
let nextKey = 0;
function pooledKey() {
  if (keyPool.length < 4) {
    const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    keyPool.push({
      publicDer: publicKey.export({ type: 'spki', format: 'der' }).toString('base64'),
      privateKey,
    });
  }
  return keyPool[nextKey++ % keyPool.length] as (typeof keyPool)[number];
}

export class InMemoryFleet implements FleetApi {
  readonly hosts = new Map<string, ModelHost>();
  readonly runs: RecordedRun[] = [];
  /** Listings of any kind: the fleet by tag, or nodes by id. */
  listCalls = 0;
  /** Listings of the whole fleet by tag. */
  fleetListCalls = 0;
  /** Called before each listing of either kind: tests use it to bring hosts online over time. */
  beforeListing?: (calls: number) => void;

  constructor(
    private readonly documents: { readonly probe: string; readonly push: string },
    private readonly now: () => number = Date.now,
  ) {}

  add(
    id: string,
    components: Partial<Record<ComponentName, Partial<ModelComponent>>>,
    host: Partial<ModelHost> = {},
  ) {
    const model: ModelHost = {
      id,
      platform: 'Linux',
      online: true,
      agentVersion: '3.3.2746.0',
      listed: true,
      ec2Tagged: true,
      clockSkewSeconds: 0,
      canUnseal: true,
      components: new Map(),
      ...host,
    };
    for (const [name, c] of Object.entries(components)) {
      model.components.set(name as ComponentName, {
        token: this.nowSeconds() + 3600,
        registrationFileAge: null,
        consumes: true,
        ...c,
      });
    }
    this.hosts.set(id, model);
    return model;
  }

  component(id: string, name: ComponentName): ModelComponent | undefined {
    return this.hosts.get(id)?.components.get(name);
  }

  nowSeconds(): number {
    return Math.floor(this.now() / 1000);
  }

  async listFleet(): Promise<FleetListing> {
    this.fleetListCalls++;
    return this.listing(() => true);
  }

  /** The described ids, as SSM describes nodes by id: only those it lists, any ping status, tags unread. */
  async describeNodes(ids: readonly string[]): Promise<FleetListing> {
    this.describedIds.push([...ids]);
    return this.listing((h) => ids.includes(h.id));
  }

  /** The ids of each describeNodes call, in order. */
  readonly describedIds: string[][] = [];

  private listing(wanted: (h: ModelHost) => boolean): FleetListing {
    this.listCalls++;
    this.beforeListing?.(this.listCalls);
    const nodes: ManagedNode[] = [...this.hosts.values()]
      .filter((h) => h.listed && wanted(h))
      .map((h) => ({
        instanceId: h.id,
        platform: h.platform,
        online: h.online,
        pingStatus: h.online ? 'Online' : 'ConnectionLost',
        agentVersion: h.agentVersion,
      }));
    return { nodes, unsupported: [] };
  }

  async taggedInstances(ids: readonly string[]) {
    return new Set(ids.filter((id) => this.hosts.get(id)?.ec2Tagged));
  }

  /** Commands other runs sent, as SSM's history shows them (newest first); and what was asked of it. */
  readonly otherCommands: (CommandSent & { readonly executing: boolean })[] = [];
  readonly historyAsked: HistoryQuery[] = [];

  async findCommand(query: HistoryQuery, wanted: (command: CommandSent) => boolean) {
    this.historyAsked.push(query);
    return this.otherCommands
      .filter((c) => c.requestedAt > query.sentAfter && (c.executing || !query.executingOnly))
      .map(({ comment, requestedAt }) => ({ comment, requestedAt }))
      .find(wanted);
  }

  async runDocument(run: DocumentRun): Promise<Map<string, InvocationResult>> {
    const role = run.documentName === this.documents.push ? 'push' : 'probe';
    const results = new Map<string, InvocationResult>();
    for (let i = 0; i < run.instanceIds.length; i += 50) {
      const batch = run.instanceIds.slice(i, i + 50);
      const parameters = run.parametersFor(batch);
      this.runs.push({
        role,
        instanceIds: batch,
        parameters,
        documentVersion: run.documentVersion,
        comment: run.comment,
      });
      for (const id of batch) {
        const host = this.hosts.get(id);
        if (!host) results.set(id, { kind: 'failed', detail: 'no such host' });
        else if (host.answer) results.set(id, host.answer);
        else if (!host.online) results.set(id, { kind: 'unreachable', detail: 'DeliveryTimedOut' });
        else
          results.set(id, { kind: 'output', succeeded: true, output: this.#answer(host, role, parameters) });
      }
    }
    return results;
  }

  #answer(host: ModelHost, role: 'probe' | 'push', parameters: Record<string, string[]>): string {
    return answer(
      role,
      role === 'probe' ? probeLines(this.#probe(host, parameters)) : pushLines(this.#push(host, parameters)),
    );
  }

  #probe(host: ModelHost, parameters: Record<string, string[]>): ProbeReport {
    const now = this.nowSeconds() + host.clockSkewSeconds;
    // KeyPair=auto: a key where the host's own clock says a component is locked out (past the grace
    // period, no file waiting), as the scripts read the rule.
    const grace = Number(parameters.GraceSeconds?.[0] ?? 3600);
    const lockedOut = [...host.components.values()].some(
      (c) => typeof c.token === 'number' && now >= c.token + grace && c.registrationFileAge === null,
    );
    const keyPair = parameters.KeyPair?.[0];
    let sealingKey: ProbeReport['sealingKey'] = null;
    if ((keyPair === 'create' || (keyPair === 'auto' && lockedOut)) && host.canUnseal) {
      const { publicDer, privateKey } = pooledKey();
      host.key = privateKey;
      sealingKey = { kind: 'ready', spkiDerBase64: publicDer };
    }
    const components = [...host.components].map(([name, c]) => this.#sighting(name, c));
    return { hostEpochSeconds: now, canUnseal: host.canUnseal, sealingKey, components };
  }

  #push(host: ModelHost, parameters: Record<string, string[]>): PushAnswer {
    const entry = deliveryFor(parameters.Deliveries?.[0] ?? '', host.id);
    if (!entry) return { result: 'no-delivery' };
    if (!host.key) return { result: 'not-unsealed', components: entry.components, reason: 'key-missing' };
    const token = privateDecrypt(
      { key: host.key, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' },
      Buffer.from(entry.sealed, 'base64'),
    ).toString();
    host.key = undefined;
    const outcomes = (entry.components as ComponentName[]).map((name): PushOutcome => {
      const c = host.components.get(name);
      if (!c) return { kind: 'failed', name, reason: 'config-missing' };
      c.received = token;
      if (c.consumes) {
        c.token = this.nowSeconds() + 3600;
        c.registrationFileAge = null;
      } else {
        c.registrationFileAge = 0;
      }
      return { kind: 'written', after: this.#sighting(name, c) };
    });
    return { result: 'unsealed', waitedSeconds: 0, outcomes };
  }

  #sighting(name: ComponentName, c: ModelComponent): ComponentSighting {
    const token: ComponentSighting['token'] =
      c.token === 'none'
        ? { kind: 'none' }
        : c.token === 'garbage'
          ? { kind: 'unreadable' }
          : { kind: 'jwt', headerAndPayload: segments({ exp: c.token, authorizations: [] }) };
    return { name, token, registrationFileAgeSeconds: c.registrationFileAge, running: true };
  }
}
