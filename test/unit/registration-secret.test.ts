import type { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { describe, expect, it } from 'vitest';
import { AwsCaller } from '../../lambda/aws/aws-call.ts';
import { Pacer } from '../../lambda/aws/pacer.ts';
import {
  MAX_TOKEN_BYTES,
  readRegistrationToken,
  tokenFromSecretString,
} from '../../lambda/registration-secret.ts';
import { awsError } from './fake-ssm.ts';

const TOKEN = 'MjAyNzk0MmUtZjQzMS00NDZlLWFkODMtOGU2OWVmMzk3MGQx';

describe('tokenFromSecretString', () => {
  it('trims trailing whitespace and newlines', () => {
    expect(tokenFromSecretString(`${TOKEN}\n\n`, 's')).toEqual({ ok: true, token: TOKEN });
  });
  it('reads a named field of a JSON secret', () => {
    expect(tokenFromSecretString(JSON.stringify({ token: TOKEN }), 's', 'token')).toEqual({
      ok: true,
      token: TOKEN,
    });
  });
  it.each([
    ['', 'is empty'],
    ['  \n', 'is empty'],
    [`${TOKEN}\n${TOKEN}`, 'more than one line'],
    ['not a token!', 'characters'],
    ['A'.repeat(191), 'longer than 190 bytes'],
  ])('rejects %j with a sentence naming the secret', (value, problem) => {
    const read = tokenFromSecretString(value, 'kasm/reg');
    expect(read.ok).toBe(false);
    if (!read.ok) {
      expect(read.problem).toContain('"kasm/reg"');
      expect(read.problem).toContain(problem);
      if (value.trim().length > 0) expect(read.problem).not.toContain(value.trim().slice(0, 12));
    }
  });
  it('says when the JSON field is missing', () => {
    const read = tokenFromSecretString('{"other": 1}', 's', 'token');
    expect(read).toEqual({ ok: false, problem: 'The secret "s" has no string field "token".' });
  });
});

describe('tokenFromSecretString at the edges', () => {
  it('accepts a token of exactly 190 bytes, the most RSA-2048 OAEP can seal', () => {
    const token = 'A'.repeat(MAX_TOKEN_BYTES);
    expect(tokenFromSecretString(token, 's')).toEqual({ ok: true, token });
  });
  it('says when a JSON field is configured but the secret is not JSON, without quoting it', () => {
    const read = tokenFromSecretString(TOKEN, 'kasm/reg', 'token');
    expect(read).toEqual({
      ok: false,
      problem: 'The secret "kasm/reg" is not JSON, but a JSON field ("token") is configured.',
    });
  });
});

/** A Secrets Manager client that records each GetSecretValue input and answers with `answer`. */
function secretsClient(answer: (signal: AbortSignal | undefined) => Promise<unknown>) {
  const inputs: unknown[] = [];
  const client = {
    send: (command: GetSecretValueCommand, options: { abortSignal?: AbortSignal }) => {
      inputs.push(command.input);
      return answer(options.abortSignal);
    },
  } as unknown as SecretsManagerClient;
  return { client, inputs };
}

describe('readRegistrationToken', () => {
  it('reads the named secret and returns its validated token', async () => {
    // Prepare
    const { client, inputs } = secretsClient(async () => ({ SecretString: `${TOKEN}\n` }));

    // Act
    const read = await readRegistrationToken(client, 'kasm/reg');

    // Assess
    expect(read).toEqual({ ok: true, token: TOKEN });
    expect(inputs).toEqual([{ SecretId: 'kasm/reg' }]);
  });

  it('reads the configured JSON field of the secret', async () => {
    // Prepare
    const { client } = secretsClient(async () => ({ SecretString: JSON.stringify({ registration: TOKEN }) }));

    // Act
    const read = await readRegistrationToken(client, 'kasm/reg', 'registration');

    // Assess
    expect(read).toEqual({ ok: true, token: TOKEN });
  });

  it('says a binary secret is not supported', async () => {
    // Prepare
    const { client } = secretsClient(async () => ({ SecretBinary: new Uint8Array([1, 2, 3]) }));

    // Act
    const read = await readRegistrationToken(client, 'kasm/reg');

    // Assess
    expect(read).toEqual({
      ok: false,
      problem: 'The secret "kasm/reg" has no SecretString (binary secrets are not supported).',
    });
  });

  it.each([
    [
      awsError('ResourceNotFoundException'),
      'The registration token secret "kasm/reg" does not exist (ResourceNotFoundException).',
    ],
    [
      awsError('AccessDeniedException'),
      'The registration token secret "kasm/reg" could not be read (AccessDeniedException).',
    ],
    [
      awsError('DecryptionFailure'),
      'The registration token secret "kasm/reg" could not be read (DecryptionFailure).',
    ],
    ['a thrown string', 'The registration token secret "kasm/reg" could not be read (Error).'],
  ])('turns a failed read (%s) into a problem naming the secret and the error', async (error, problem) => {
    // Prepare
    const { client } = secretsClient(() => Promise.reject(error));

    // Act
    const read = await readRegistrationToken(client, 'kasm/reg');

    // Assess
    expect(read).toEqual({ ok: false, problem });
  });

  describe('through the run’s AwsCaller', () => {
    const callerFor = (deadlineInMs: number, throttled: string[] = []) =>
      new AwsCaller({
        pacer: new Pacer({ ratePerSecond: 1000, burst: 1000 }),
        deadlineAt: Date.now() + deadlineInMs,
        sleep: async () => {},
        onThrottle: (operation) => throttled.push(operation),
      });

    it('rides out a throttle, counting it against GetSecretValue', async () => {
      // Prepare
      const throttled: string[] = [];
      let calls = 0;
      const { client } = secretsClient(async () => {
        calls++;
        if (calls === 1) throw awsError('ThrottlingException');
        return { SecretString: TOKEN };
      });

      // Act
      const read = await readRegistrationToken(client, 'kasm/reg', undefined, callerFor(60_000, throttled));

      // Assess
      expect(read).toEqual({ ok: true, token: TOKEN });
      expect(throttled).toEqual(['GetSecretValue']);
    });

    it('gives up on a read that outlasts the run’s deadline, saying it could not be read', async () => {
      // Prepare: Secrets Manager answers only when the request is aborted.
      const { client } = secretsClient(
        (signal) =>
          new Promise((_, reject) => {
            signal?.addEventListener('abort', () => reject(signal.reason));
          }),
      );

      // Act
      const read = await readRegistrationToken(client, 'kasm/reg', undefined, callerFor(50));

      // Assess
      expect(read).toEqual({
        ok: false,
        problem: 'The registration token secret "kasm/reg" could not be read (DeadlineError).',
      });
    });
  });
});
