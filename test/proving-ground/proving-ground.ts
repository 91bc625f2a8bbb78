/**
 * Starts the whole proving ground from a scenario: the Kasm Admin API, the simulated
 * fleet (hosts + components) and the AWS wire server serving the product's own SSM
 * documents. `handlerEnv` is the environment the reconciler needs to run against it.
 */

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLambdaHandler } from '../../lambda/handler.ts';
import { deployedDocuments } from '../../shared/documents/deployed-content.ts';
import { type DocumentRole, documentNames } from '../../shared/documents/ssm-documents.ts';
import { ALARM_IDS, alarmName, functionName } from '../../shared/names.ts';
import type { FleetTag } from '../../shared/settings.ts';
import { ensureAgentBuild } from './agent/build.ts';
import { FunctionFailure } from './aws/lambda.ts';
import { ACCOUNT_ID, type AwsServer, startAwsServer } from './aws/server.ts';
import { MessageDelivery } from './aws/ssm/message-delivery.ts';
import { type AwsTiming, awsTimingFor, compressedWaits } from './aws-timing.ts';
import { createFleet, type Fleet, type FleetOptions, type FleetState } from './fleet.ts';
import { type KasmAdminApi, startKasmAdminApi } from './kasm/admin-api.ts';
import { createModelledFleet } from './modelled-fleet.ts';
import type { Scenario } from './scenario.ts';
import { applyEnv, capturing } from './simulation.ts';
import type { RecordedCall, SimulatedFleet, StepResult, StepRun } from './types.ts';

export const REGION = 'eu-west-1';
export const SECRET_ID = 'kasm/registration-token';
export const ENVIRONMENT = 'local';
/** The deployed function of the proving ground's environment, and its (CDK-style) log group. */
export const FUNCTION_NAME = functionName(ENVIRONMENT);
export const LOG_GROUP_NAME = `${FUNCTION_NAME}-ReconcilerLogs9E8D7B0E-pRoViNgGrOuNd`;
/** The topic the environment's alarms notify (the stack's own, for an alarm e-mail); one confirmed subscription. */
export const ALARM_TOPIC_ARN = `arn:aws:sns:${REGION}:${ACCOUNT_ID}:${FUNCTION_NAME}-AlarmsTopic0A1B2C3D-pRoViNg`;
/** Variables a deployed function's configuration never lists: the runtime sets them (reserved). */
const RUNTIME_VARIABLES = /^AWS_/;

export interface ProvingGroundInfo {
  readonly region: string;
  readonly awsEndpoint: string;
  readonly kasmApi: string;
  readonly caFile: string;
  readonly secretId: string;
  readonly fleetTag: FleetTag;
  readonly documents: Readonly<Record<DocumentRole, string>>;
  /** SHA-256 of each document's content, as the stack gives the function (SendCommand `DocumentHash`). */
  readonly documentHashes: Readonly<Record<DocumentRole, string>>;
}

export interface ProvingGround {
  readonly info: ProvingGroundInfo;
  readonly scenario: Scenario;
  readonly api: KasmAdminApi;
  readonly fleet: Fleet;
  readonly aws: AwsServer;
  /** Environment for the reconciler: AWS endpoint and dummy credentials plus its settings. */
  readonly handlerEnv: Readonly<Record<string, string>>;
  /** Real seconds per simulated second (30 / kasm.heartbeatSeconds): `durationMs × timeScale` ≈ a real run. */
  readonly timeScale: number;
  /**
   * With awsTiming: each product setting whose compressed value the settings' ranges refuse, the value
   * used instead, and what the range would have to allow. Empty when every wait compressed exactly.
   */
  readonly timingNotes: readonly string[];
  /** Every step a host ran, with what it printed: tests search these for leaks. */
  readonly steps: readonly { readonly run: StepRun; readonly result: StepResult }[];
  fleetState(): FleetState;
  /** Requests received, by operation name, retried attempts included. */
  awsCalls(): Record<string, number>;
  /** Bytes received and sent over the JSON protocols, by operation (EC2's query protocol is not counted). */
  awsBytes(): Record<string, { readonly requests: number; readonly responses: number }>;
  stop(): Promise<void>;
}

export interface ProvingGroundOptions {
  readonly fleetTag?: FleetTag;
  readonly rootDir?: string;
  /** Host steps run at once (default: the fleet's own, sized for 2 cores). */
  readonly maxConcurrentSteps?: number;
  /** Replaces a host's step result, e.g. to make a host print garbage. */
  readonly tamper?: (run: StepRun, result: StepResult) => StepResult;
  /** Called before the fake AWS serves a request: lets a test change the world mid-run. */
  readonly beforeOperation?: (operation: string, input: Readonly<Record<string, unknown>>) => void;
  /** More SSM documents to serve beside the product's two (the proving ground's own tests). */
  readonly extraDocuments?: ReadonlyMap<string, object>;
  /** `hostModel: "agent"`: where the agent build says what it does (default: nothing). */
  readonly log?: (line: string) => void;
  /**
   * Other `Content` for the product's documents under the same names, as if someone had deleted and
   * re-created one: SSM then holds content whose hash differs from what the function pins.
   */
  readonly replaceDocuments?: Partial<Record<DocumentRole, string>>;
}

/** How long the real agents may take to check in after the proving ground starts them. */
const AGENT_CHECK_IN_TIMEOUT_MS = 90_000;

export async function startProvingGround(
  scenario: Scenario,
  options: ProvingGroundOptions = {},
): Promise<ProvingGround> {
  const fleetTag = options.fleetTag ?? { key: 'kasm:reconcile', value: 'true' };
  const names = documentNames(ENVIRONMENT);
  const deployed = deployedDocuments();
  const stops: Array<() => Promise<void>> = [];
  const stop = async () => {
    for (const s of stops.reverse()) await s().catch(() => undefined);
  };
  try {
    const api = await startKasmAdminApi({ ...scenario.kasm, registrationToken: scenario.registrationToken });
    stops.push(() => api.close());
    const timing = awsTimingFor(scenario);
    const create = scenario.hostModel === 'modelled' ? createModelledFleet : createFleet;
    const messageDelivery = new MessageDelivery(REGION);
    const agents =
      scenario.hostModel === 'agent' ? await realAgents(messageDelivery, stops, options.log) : undefined;
    const fleet = await create(scenario, {
      kasm: api,
      fleetTag,
      ...(agents ? { agents } : {}),
      ...(options.rootDir ? { rootDir: options.rootDir } : {}),
      ...(options.maxConcurrentSteps ? { maxConcurrentSteps: options.maxConcurrentSteps } : {}),
    });
    stops.push(() => fleet.stop());
    const steps: { run: StepRun; result: StepResult }[] = [];
    const aws = await startAwsServer({
      fleet: recording(fleet, steps, options.tamper),
      region: REGION,
      // Created from the very Content strings the stack deploys, so SSM's hash of them is the stack's.
      documents: new Map<string, object | string>([
        [names.probe, options.replaceDocuments?.probe ?? deployed.probe.content],
        [names.push, options.replaceDocuments?.push ?? deployed.push.content],
        ...(options.extraDocuments ?? []),
      ]),
      secrets: new Map([[SECRET_ID, scenario.registrationToken]]),
      faults: scenario.faults,
      messageDelivery,
      ...(options.beforeOperation ? { beforeOperation: options.beforeOperation } : {}),
      // A real-world second of eventual consistency, compressed like every other AWS time cost.
      consistencyDelayMs: scenario.faults.consistencyDelayMs / (timing.enabled ? timing.timeScale : 1),
      ...(timing.enabled
        ? { latencyMs: () => timing.ms('apiLatency'), deliveryDelayMs: () => timing.ms('agentPickup') }
        : {}),
    });
    stops.push(() => aws.close());
    if (agents) await aws.listenUnix(join(agents.socketDir, 'aws.sock'));
    fleet.start();
    // Hosts that are up when the scenario starts have checked in, as with the other host models.
    if (agents) await fleet.agentsCheckedIn(AGENT_CHECK_IN_TIMEOUT_MS);

    const timingNotes: string[] = [];
    const info: ProvingGroundInfo = {
      region: REGION,
      awsEndpoint: aws.endpoint,
      kasmApi: api.url,
      caFile: api.caFile,
      secretId: SECRET_ID,
      fleetTag,
      documents: names,
      documentHashes: { probe: deployed.probe.sha256, push: deployed.push.sha256 },
    };
    const handlerEnv = handlerEnvironment(scenario, aws.endpoint, api, fleetTag, timing, timingNotes);
    registerFunction(aws, handlerEnv);
    deployAlarms(aws);
    return {
      info,
      scenario,
      api,
      fleet,
      aws,
      handlerEnv,
      timeScale: timing.timeScale,
      timingNotes,
      steps,
      fleetState: () => fleet.state(),
      awsCalls: () => callCounts(aws.calls),
      awsBytes: () => callBytes(aws.calls),
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** `hostModel: "agent"`: the built agent, and a folder for its socket outside the fleet's tree. */
async function realAgents(
  messageDelivery: MessageDelivery,
  stops: Array<() => Promise<void>>,
  log: ProvingGroundOptions['log'],
): Promise<NonNullable<FleetOptions['agents']>> {
  const { binDir } = await ensureAgentBuild(log);
  // Outside the fleet's tree: each host's namespace hides that tree, and mounts this folder.
  const socketDir = await mkdtemp(join(tmpdir(), 'ktr-pg-agents-'));
  stops.push(() => rm(socketDir, { recursive: true, force: true }));
  return { binDir, socketDir, region: REGION, messageDelivery };
}

/** The fleet as the AWS server sees it, every step recorded (and, when a test asks, its result tampered with). */
function recording(
  fleet: Fleet,
  steps: { run: StepRun; result: StepResult }[],
  tamper: ProvingGroundOptions['tamper'],
): SimulatedFleet {
  return {
    nodes: () => fleet.nodes(),
    deliversByAgent: (id) => fleet.deliversByAgent?.(id) ?? false,
    runStep: async (run) => {
      const ran = await fleet.runStep(run);
      const result = tamper ? tamper(run, ran) : ran;
      steps.push({ run, result });
      return result;
    },
  };
}

/** The function's environment on this proving ground: its endpoints, names, and the scenario's pace. */
function handlerEnvironment(
  scenario: Scenario,
  awsEndpoint: string,
  api: KasmAdminApi,
  fleetTag: FleetTag,
  timing: AwsTiming,
  timingNotes: string[],
): Record<string, string> {
  const names = documentNames(ENVIRONMENT);
  const deployed = deployedDocuments();
  const heartbeat = Math.max(1, Math.ceil(scenario.kasm.heartbeatSeconds));
  return {
    AWS_ENDPOINT_URL: awsEndpoint,
    AWS_REGION: REGION,
    AWS_ACCESS_KEY_ID: 'AKIDPROVINGGROUND',
    AWS_SECRET_ACCESS_KEY: 'proving-ground-secret-key',
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    FLEET_TAG_KEY: fleetTag.key,
    FLEET_TAG_VALUE: fleetTag.value,
    REGISTRATION_TOKEN_SECRET_ID: SECRET_ID,
    PROBE_DOCUMENT_NAME: names.probe,
    PUSH_DOCUMENT_NAME: names.push,
    PROBE_DOCUMENT_HASH: deployed.probe.sha256,
    PUSH_DOCUMENT_HASH: deployed.push.sha256,
    KASM_API_URL: api.url,
    KASM_CA_FILE: api.caFile,
    KASM_GRACE_PERIOD_SECONDS: String(scenario.kasm.gracePeriodSeconds),
    // The product's waits derive from the heartbeat, so a scenario runs in seconds.
    KASM_HEARTBEAT_SECONDS: String(heartbeat),
    COMMAND_POLL_INTERVAL_MS: '100',
    ONLINE_WAIT_SECONDS: String(3 * heartbeat),
    ...compressedWaits(timing, timingNotes),
  };
}

/**
 * Lambda Invoke runs the real handler, warm across invocations like one execution environment, and its
 * log lines land in the function's log group.
 */
function registerFunction(aws: AwsServer, handlerEnv: Record<string, string>): void {
  const reconciler = createLambdaHandler({ ...process.env, ...handlerEnv });
  aws.lambda.register({
    name: FUNCTION_NAME,
    logGroupName: LOG_GROUP_NAME,
    timeoutSeconds: 900,
    // The deployed function reserves no concurrency (runs may overlap). Here every invocation runs
    // in this one process, whose environment variables and stdout capture two runs cannot share.
    reservedConcurrency: 1,
    environment: Object.fromEntries(
      Object.entries(handlerEnv).filter(([name]) => !RUNTIME_VARIABLES.test(name)),
    ),
    run: async (event, context) => {
      const restore = applyEnv(handlerEnv);
      try {
        // Lambda sends both stdout and stderr to the log group (Powertools writes warnings and
        // errors, such as the "needs attention" lines, to stderr), line by line as they come.
        const result = await capturing(process.stderr, context.log, () =>
          capturing(process.stdout, context.log, () => reconciler(event, context)),
        );
        return { result, logLines: [] };
      } catch (error) {
        const e = error instanceof Error ? error : new Error(String(error));
        throw new FunctionFailure(e.name, e.message, (e.stack ?? '').split('\n').slice(1), []);
      } finally {
        restore();
      }
    },
  });
}

/** The alarms every stack deploys, notifying a topic with one confirmed subscription. */
function deployAlarms(aws: AwsServer): void {
  aws.sns.topics.set(ALARM_TOPIC_ARN, { confirmed: 1, pending: 0 });
  for (const id of ALARM_IDS)
    aws.cloudwatch.alarms.push({ name: alarmName(ENVIRONMENT, id), actions: [ALARM_TOPIC_ARN] });
}

function callCounts(calls: readonly RecordedCall[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const call of calls) counts[call.operation] = (counts[call.operation] ?? 0) + 1;
  return counts;
}

function callBytes(calls: readonly RecordedCall[]): Record<string, { requests: number; responses: number }> {
  const bytes: Record<string, { requests: number; responses: number }> = {};
  for (const call of calls) {
    if (call.requestBody === undefined && call.responseBody === undefined) continue;
    const b = bytes[call.operation] ?? { requests: 0, responses: 0 };
    b.requests += Buffer.byteLength(call.requestBody ?? '');
    b.responses += Buffer.byteLength(call.responseBody ?? '');
    bytes[call.operation] = b;
  }
  return bytes;
}
