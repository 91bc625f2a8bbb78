/**
 * SSM Command documents (schema 2.2) as the service and the agent read them: parameter validation for
 * SendCommand, `{{ name }}` substitution, ENV_VAR interpolation and per-platform step selection.
 *
 * Document syntax: https://docs.aws.amazon.com/systems-manager/latest/userguide/documents-syntax-data-elements-parameters.html
 */
import type { Platform } from '../types.ts';
import { goRegexpError } from './ssm/go-regexp.ts';
import { type AwsError, isRecord, modeled } from './wire.ts';

interface ParamSpec {
  readonly name: string;
  readonly type: string;
  readonly defaultValue: readonly string[] | undefined;
  readonly allowedPattern: string | undefined;
  readonly allowedValues: readonly string[] | undefined;
  readonly minChars: number | undefined;
  readonly maxChars: number | undefined;
  readonly minItems: number | undefined;
  readonly maxItems: number | undefined;
  readonly envVar: boolean;
}

export interface StepSpec {
  readonly name: string;
  readonly action: string;
  readonly platform: Platform | undefined; // from precondition StringEquals [platformType, X]
  readonly runCommand: readonly string[];
  readonly timeoutSeconds: string | number | undefined;
}

export interface CommandDocument {
  readonly name: string;
  /** The document's JSON content as created (what the service sends a real agent). */
  readonly content: object;
  readonly params: ReadonlyMap<string, ParamSpec>;
  readonly steps: readonly StepSpec[];
}

/** Parses a document once; a malformed one is a harness bug, so it throws a plain Error. */
export function parseDocument(name: string, content: object): CommandDocument {
  if (!isRecord(content)) throw new Error(`SSM document ${name} is not an object`);
  const params = new Map<string, ParamSpec>();
  const declared = content.parameters ?? {};
  if (!isRecord(declared)) throw new Error(`SSM document ${name}: parameters must be an object`);
  for (const [paramName, raw] of Object.entries(declared)) {
    if (!isRecord(raw)) throw new Error(`SSM document ${name}: parameter ${paramName} must be an object`);
    params.set(paramName, {
      name: paramName,
      type: typeof raw.type === 'string' ? raw.type : 'String',
      defaultValue: toValues(raw.default),
      allowedPattern: typeof raw.allowedPattern === 'string' ? raw.allowedPattern : undefined,
      allowedValues: Array.isArray(raw.allowedValues) ? raw.allowedValues.map(String) : undefined,
      minChars: typeof raw.minChars === 'number' ? raw.minChars : undefined,
      maxChars: typeof raw.maxChars === 'number' ? raw.maxChars : undefined,
      minItems: typeof raw.minItems === 'number' ? raw.minItems : undefined,
      maxItems: typeof raw.maxItems === 'number' ? raw.maxItems : undefined,
      envVar: raw.interpolationType === 'ENV_VAR',
    });
  }
  const mainSteps = content.mainSteps;
  if (!Array.isArray(mainSteps)) throw new Error(`SSM document ${name}: mainSteps must be a list`);
  const steps = mainSteps.map((raw, i): StepSpec => {
    if (!isRecord(raw)) throw new Error(`SSM document ${name}: step ${i} must be an object`);
    const inputs = isRecord(raw.inputs) ? raw.inputs : {};
    const runCommand = Array.isArray(inputs.runCommand) ? inputs.runCommand.map(String) : [];
    const timeout = inputs.timeoutSeconds;
    return {
      name: typeof raw.name === 'string' ? raw.name : `step${i + 1}`,
      action: typeof raw.action === 'string' ? raw.action : '',
      platform: preconditionPlatform(raw.precondition),
      runCommand,
      timeoutSeconds: typeof timeout === 'string' || typeof timeout === 'number' ? timeout : undefined,
    };
  });
  return { name, content, params, steps };
}

function toValues(v: unknown): string[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (Array.isArray(v)) return v.map(String);
  return [String(v)];
}

function preconditionPlatform(pre: unknown): Platform | undefined {
  if (!isRecord(pre)) return undefined;
  const eq = pre.StringEquals;
  if (Array.isArray(eq) && eq[0] === 'platformType' && (eq[1] === 'Linux' || eq[1] === 'Windows'))
    return eq[1];
  return undefined;
}

const invalidParameters = (message: string): AwsError => modeled('InvalidParameters', message);

/**
 * SendCommand's parameter check: an undeclared parameter or a missing required one is InvalidParameters
 * ("You must specify values for all required parameters in the SSM document. You can only supply values
 * to parameters defined in the SSM document." -
 * https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_SendCommand.html#API_SendCommand_Errors),
 * values are checked against allowedValues / allowedPattern / min-max chars and items, and defaults fill
 * the rest. Messages name the parameter and the rule, never the value (values may be sealed secrets).
 */
export function resolveParameters(
  doc: CommandDocument,
  given: Readonly<Record<string, readonly string[]>>,
): Map<string, readonly string[]> {
  for (const key of Object.keys(given)) {
    if (!doc.params.has(key)) {
      throw invalidParameters(`Parameter "${key}" is not defined in document ${doc.name}.`);
    }
  }
  const resolved = new Map<string, readonly string[]>();
  for (const spec of doc.params.values()) {
    const values = given[spec.name] ?? spec.defaultValue;
    if (values === undefined) {
      throw invalidParameters(`Document ${doc.name} requires a value for parameter "${spec.name}".`);
    }
    checkValues(doc, spec, values);
    resolved.set(spec.name, values);
  }
  return resolved;
}

function checkValues(doc: CommandDocument, spec: ParamSpec, values: readonly string[]): void {
  const where = `parameter "${spec.name}" of document ${doc.name}`;
  const isList = spec.type === 'StringList' || spec.type === 'MapList';
  if (!isList && values.length !== 1) throw invalidParameters(`The ${where} takes exactly one value.`);
  if (spec.minItems !== undefined && values.length < spec.minItems) {
    throw invalidParameters(`The ${where} needs at least ${spec.minItems} items.`);
  }
  if (spec.maxItems !== undefined && values.length > spec.maxItems) {
    throw invalidParameters(`The ${where} allows at most ${spec.maxItems} items.`);
  }
  const pattern = spec.allowedPattern === undefined ? undefined : new RegExp(spec.allowedPattern);
  for (const value of values) {
    if (spec.type === 'Integer' && !/^-?\d+$/.test(value))
      throw invalidParameters(`The ${where} must be an Integer.`);
    if (spec.type === 'Boolean' && value !== 'true' && value !== 'false') {
      throw invalidParameters(`The ${where} must be a Boolean.`);
    }
    if (spec.allowedValues !== undefined && !spec.allowedValues.includes(value)) {
      throw invalidParameters(`The ${where} must be one of its allowedValues.`);
    }
    if (pattern !== undefined && !pattern.test(value)) {
      throw invalidParameters(`The ${where} failed to satisfy its allowedPattern: ${spec.allowedPattern}`);
    }
    if (spec.minChars !== undefined && value.length < spec.minChars) {
      throw invalidParameters(`The ${where} needs at least ${spec.minChars} characters.`);
    }
    if (spec.maxChars !== undefined && value.length > spec.maxChars) {
      throw invalidParameters(`The ${where} allows at most ${spec.maxChars} characters.`);
    }
  }
}

const PLACEHOLDER = /\{\{\s*([A-Za-z0-9_.-]+)\s*\}\}/g;

/**
 * `{{ name }}` substitution, as Systems Manager does for every declared parameter before the agent runs a
 * step. A runCommand line that is nothing but a StringList placeholder expands into one line per item.
 * A document that references its parameters only through ENV_VAR variables (the safe way) has no
 * placeholders, so its lines reach the host exactly as written.
 */
export function substituteLines(
  lines: readonly string[],
  params: ReadonlyMap<string, readonly string[]>,
): string[] {
  const out: string[] = [];
  for (const line of lines) {
    const whole = /^\s*\{\{\s*([A-Za-z0-9_.-]+)\s*\}\}\s*$/.exec(line);
    const listValues = whole?.[1] === undefined ? undefined : params.get(whole[1]);
    if (listValues !== undefined && listValues.length !== 1) {
      out.push(...listValues);
      continue;
    }
    out.push(substitute(line, params));
  }
  return out;
}

export function substitute(text: string, params: ReadonlyMap<string, readonly string[]>): string {
  return text.replace(PLACEHOLDER, (match, name: string) => {
    const values = params.get(name);
    return values === undefined ? match : values.join(',');
  });
}

/**
 * ENV_VAR interpolation: "When set to ENV_VAR, the system creates an environment variable named
 * SSM_<parameter-name> containing the parameter value" (SSM Agent 3.3.2746.0 and later) -
 * https://docs.aws.amazon.com/systems-manager/latest/userguide/documents-syntax-data-elements-parameters.html
 * The feature is documented for string parameters; list parameters get no variable here.
 */
export function envVarParameters(
  doc: CommandDocument,
  params: ReadonlyMap<string, readonly string[]>,
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const spec of doc.params.values()) {
    const values = params.get(spec.name);
    if (!spec.envVar || values === undefined || values.length !== 1) continue;
    if (spec.type === 'StringList' || spec.type === 'MapList') continue;
    env[`SSM_${spec.name}`] = values[0] ?? '';
  }
  return env;
}

/**
 * What the SSM Agent says when it refuses a document before any step runs: it compiles every parameter's
 * allowedPattern with Go's regexp and matches the value with it, and joins the failures into the
 * document's trace output (amazon-ssm-agent agent/framework/docparser/parameterstore/parameterstore.go
 * ValidateSSMParameters; paramvalidator/allowedregexparamvalidator). Undefined when it runs the document.
 * Seen from the real agent: "all errors during param validation errors: error thrown in
 * 'AllowedRegexParamValidator' while validating parameter /Msg/: encountered error while compiling allowed
 * pattern - internal error: error parsing regexp: invalid repeat count: `{0,49}`".
 */
export function agentParameterProblem(
  doc: CommandDocument,
  params: ReadonlyMap<string, readonly string[]>,
): string | undefined {
  const errors: string[] = [];
  for (const spec of doc.params.values()) {
    if (spec.allowedPattern === undefined || spec.allowedPattern === '') continue;
    const problem = allowedPatternProblem(
      spec.allowedPattern,
      params.get(spec.name) ?? spec.defaultValue ?? [],
    );
    if (problem !== undefined) {
      errors.push(
        `error thrown in 'AllowedRegexParamValidator' while validating parameter /${spec.name}/: ${problem}`,
      );
    }
  }
  return errors.length > 0 ? `all errors during param validation errors: ${errors.join('\n')}` : undefined;
}

function allowedPatternProblem(pattern: string, values: readonly string[]): string | undefined {
  const compileError = goRegexpError(pattern);
  if (compileError !== undefined) {
    return `encountered error while compiling allowed pattern - internal error: ${compileError}`;
  }
  // Go's MatchString; on the patterns the model accepts, JavaScript's RegExp matches alike.
  const re = new RegExp(pattern);
  const bad = values.find((v) => !re.test(v));
  return bad === undefined
    ? undefined
    : `parameter value /${bad}/ does not match the allowed pattern /${pattern}/`;
}

/** Agent default execution timeout for aws:runShellScript / aws:runPowerShellScript (3600 s). */
export const DEFAULT_EXECUTION_TIMEOUT_SECONDS = 3600;

/**
 * A step's execution timeout as the agent applies it: a `timeoutSeconds` outside 5 to 172,800 is replaced by
 * the 3,600 s default (agent/plugins/pluginutil/pluginutil.go ValidateExecutionTimeout,
 * minExecutionTimeoutInSeconds = 5). Seen from the real agent: `"timeoutSeconds": "2"` ran its 30 s sleep
 * to the end.
 */
export function stepTimeoutSeconds(step: StepSpec, params: ReadonlyMap<string, readonly string[]>): number {
  if (step.timeoutSeconds === undefined) return DEFAULT_EXECUTION_TIMEOUT_SECONDS;
  const raw = typeof step.timeoutSeconds === 'number' ? String(step.timeoutSeconds) : step.timeoutSeconds;
  const n = Number.parseInt(substitute(raw, params), 10);
  return Number.isFinite(n) && n >= 5 && n <= 172_800 ? n : DEFAULT_EXECUTION_TIMEOUT_SECONDS;
}

/**
 * Which steps a node runs. In schema 2.2 a step whose precondition names another platform is skipped,
 * reported with the agent's message; a step without precondition runs, except the Linux-only
 * aws:runShellScript on a Windows node, which the agent skips as an unsupported plugin.
 */
export function skipReason(step: StepSpec, platform: Platform): string | undefined {
  if (step.platform !== undefined && step.platform !== platform) {
    return (
      `Step execution skipped due to unsatisfied preconditions: '"StringEquals": [platformType, ${step.platform}]'.` +
      ` Step name: ${step.name}`
    );
  }
  if (step.platform === undefined && step.action === 'aws:runShellScript' && platform === 'Windows') {
    return `Step execution skipped due to unsupported plugin: ${step.action}. Step name: ${step.name}`;
  }
  return undefined;
}
