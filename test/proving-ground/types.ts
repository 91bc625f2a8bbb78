/**
 * The seams between the proving ground's parts. The AWS wire server (aws/) only
 * knows a `SimulatedFleet`; the hosts, the Kasm API and the simulated components
 * (hosts/, kasm/) implement it; `proving-ground.ts` wires them from a scenario.
 */

export type Platform = 'Linux' | 'Windows';

/** One SSM managed node as the SSM API sees it. */
export interface SimulatedNode {
  readonly instanceId: string; // i-… (EC2Instance) or mi-… (ManagedInstance)
  readonly platform: Platform;
  readonly online: boolean; // PingStatus Online, else ConnectionLost
  readonly tags: Readonly<Record<string, string>>;
  readonly computerName: string;
  readonly ipAddress: string;
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
}

export interface StepResult {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
  readonly timedOut: boolean;
}

export interface SimulatedFleet {
  nodes(): readonly SimulatedNode[];
  /** Runs a step on an online node. Never called for offline nodes. */
  runStep(run: StepRun): Promise<StepResult>;
}

/** Every request the AWS server received, including rejected and fault-injected ones. */
export interface RecordedCall {
  readonly service: 'ssm' | 'secretsmanager';
  readonly operation: string;
  readonly params: unknown;
  readonly at: string;
  readonly status: number;
  readonly errorType?: string;
  /** The request body exactly as received, and the reply's body exactly as sent (leak searches read both). */
  readonly requestBody?: string;
  readonly responseBody?: string;
}
