/**
 * Scripted AWS clients (Lambda, CloudWatch Logs, and those preflight uses) for in-process tests of the operator CLI
 * (infra/ops): each operation answers what the test gives it, and every call is recorded.
 * The e2e tests (test/e2e/ops-cli.test.ts) run the same CLI against the proving ground.
 */
import type { AwsChoice } from '../../infra/ops/args.ts';
import type { OpsClients } from '../../infra/ops/main.ts';

export type Answer = (input: Record<string, unknown>) => unknown;

export interface Call {
  readonly client: keyof OpsClients;
  readonly operation: string;
  readonly input: Record<string, unknown>;
}

export class FakeOpsClients {
  readonly calls: Call[] = [];
  /** Regions the CLI asked clients for, one per command run. */
  readonly regions: (string | undefined)[] = [];
  /** Region and profile the CLI asked clients for, one per command run. */
  readonly choices: AwsChoice[] = [];
  destroyed = 0;

  constructor(private readonly answers: Partial<Record<string, Answer>>) {}

  /** The `clients` factory of OpsIo. */
  readonly factory = (choice: AwsChoice): OpsClients => {
    this.regions.push(choice.region);
    this.choices.push(choice);
    const names = ['lambda', 'logs', 'ssm', 'secrets', 'cloudwatch', 'sns'] as const;
    return Object.fromEntries(names.map((name) => [name, this.#client(name)])) as unknown as OpsClients;
  };

  /** Calls of one operation, their inputs in order. */
  inputs(operation: string): Record<string, unknown>[] {
    return this.calls.filter((c) => c.operation === operation).map((c) => c.input);
  }

  #client(client: keyof OpsClients) {
    return {
      send: async (command: { input: Record<string, unknown>; constructor: { name: string } }) => {
        const operation = command.constructor.name.replace(/Command$/, '');
        this.calls.push({ client, operation, input: command.input });
        const answer = this.answers[operation];
        if (!answer) throw new Error(`FakeOpsClients has no answer for ${operation}`);
        return answer(command.input);
      },
      destroy: () => {
        this.destroyed++;
      },
    };
  }
}

export const awsError = (name: string, message = name) => Object.assign(new Error(message), { name });

export const encode = (value: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(value));
export const decode = (payload: unknown): unknown =>
  JSON.parse(new TextDecoder().decode(payload as Uint8Array));

/** Collects what the CLI writes to one stream. */
export function sink(isTTY = false) {
  const written: string[] = [];
  return {
    isTTY,
    written,
    write: (text: string) => written.push(text),
    get text() {
      return written.join('');
    },
  };
}
