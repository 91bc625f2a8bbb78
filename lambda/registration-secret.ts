/** Reads the Component Registration Token from Secrets Manager, once per run. */
import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { type SecretRead, tokenFromSecretString } from '../shared/registration-token.ts';
import type { AwsCaller } from './aws/aws-call.ts';

export { MAX_TOKEN_BYTES, type SecretRead, tokenFromSecretString } from '../shared/registration-token.ts';

export async function readRegistrationToken(
  client: SecretsManagerClient,
  secretId: string,
  jsonField?: string,
  caller?: AwsCaller,
): Promise<SecretRead> {
  let secretString: string | undefined;
  try {
    const read = (abortSignal?: AbortSignal) =>
      client.send(new GetSecretValueCommand({ SecretId: secretId }), abortSignal ? { abortSignal } : {});
    const result = caller ? await caller.call('GetSecretValue', read) : await read();
    secretString = result.SecretString;
  } catch (error) {
    const name = error instanceof Error ? error.name : 'Error';
    if (name === 'ResourceNotFoundException') {
      return {
        ok: false,
        problem: `The registration token secret "${secretId}" does not exist (ResourceNotFoundException).`,
      };
    }
    return { ok: false, problem: `The registration token secret "${secretId}" could not be read (${name}).` };
  }
  if (secretString === undefined) {
    return {
      ok: false,
      problem: `The secret "${secretId}" has no SecretString (binary secrets are not supported).`,
    };
  }
  return tokenFromSecretString(secretString, secretId, jsonField);
}
