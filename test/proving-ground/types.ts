/**
 * The seams between the proving ground's parts. The AWS wire server (aws/) only
 * knows a `SimulatedFleet`; the hosts, the Kasm API and the simulated components
 * (hosts/, kasm/) implement it; `proving-ground.ts` wires them from a scenario.
 */

export type Platform = 'Linux' | 'Windows';

/** EC2 instance state as far as SSM cares: only `running` nodes are listed or reachable. */
export type InstanceState = 'running' | 'stopped' | 'terminated';

/** One SSM managed node as the SSM API sees it (and, for i- ids, as EC2 sees its tags). */
export interface SimulatedNode {
  readonly instanceId: string; // i-… (EC2Instance) or mi-… (ManagedInstance)
  readonly platform: Platform;
  /** The agent answers: PingStatus Online; a running node whose agent does not is ConnectionLost. */
  readonly online: boolean;
  readonly tags: Readonly<Record<string, string>>;
  readonly computerName: string;
  readonly ipAddress: string;
  /** Default `running`. Stopped and terminated nodes are not listed and cannot receive commands. */
  readonly state?: InstanceState;
  /** SSM Agent version (default a current one, see `DEFAULT_AGENT_VERSION` in aws/ssm/agent.ts). */
  readonly agentVersion?: string;
  /** When the agent last answered (offline nodes); default long before the proving ground started. */
  readonly lastPingAt?: Date;
}

/** One document step, run on one node, the way the SSM agent runs it. */
export interface StepRun {
  readonly instanceId: string;
  /** `aws:runShellScript` or `aws:runPowerShellScript`. */
  readonly action: string;
  /** The step's `runCommand` lines joined with "\n", exactly as the document holds them. */
  readonly script: string;
  /** AWS_SSM_INSTANCE_ID, AWS_SSM_REGION_NAME, and SSM_<Param> for ENV_VAR parameters. */
  readonly env: Readonly<Record<string, string>>;
  readonly timeoutSeconds: number;
  /** Aborted when the command is cancelled or its execution timeout passes: the step must be killed. */
  readonly signal?: AbortSignal;
}

export interface StepResult {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
  readonly timedOut: boolean;
}

export interface SimulatedFleet {
  nodes(): readonly SimulatedNode[];
  /** One node by id, when the fleet can answer without listing all (fleets of thousands). */
  node?(instanceId: string): SimulatedNode | undefined;
  /** Runs a step on an online node. Never called for offline nodes. Honours `run.signal`. */
  runStep(run: StepRun): Promise<StepResult>;
  /**
   * True for a node whose commands a real SSM Agent fetches from the message delivery service
   * (`hostModel: "agent"`): the service queues them for it instead of calling `runStep`.
   */
  deliversByAgent?(instanceId: string): boolean;
}

/** Every request the AWS server received, including rejected and fault-injected ones. */
export interface RecordedCall {
  readonly service:
    | 'ssm'
    | 'secretsmanager'
    | 'ec2'
    | 'logs'
    | 'lambda'
    | 'ec2messages'
    | 'monitoring'
    | 'sns';
  readonly operation: string;
  readonly params: unknown;
  readonly at: string;
  readonly status: number;
  readonly errorType?: string;
  /** The request body exactly as received, and the reply's body exactly as sent (leak searches read both). */
  readonly requestBody?: string;
  readonly responseBody?: string;
}
