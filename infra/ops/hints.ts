/**
 * What an error from AWS (or from reaching it) means for the operator, and what to try.
 * Pure: an error and where the command was going in, the message and its hint out.
 */
import { stackName } from '../../shared/names.ts';

export interface Where {
  readonly env: string;
  /** The region the clients were given; undefined: the SDK's own lookup. */
  readonly region?: string;
  /** Environments cdk.json defines. */
  readonly known: readonly string[];
  /** AWS_ENDPOINT_URL, when the operator set one. */
  readonly endpoint?: string;
}

const CONNECTION = /ECONNREFUSED|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|ECONNRESET|EHOSTUNREACH|socket hang up/;
const CREDENTIAL_ERRORS = new Set([
  'CredentialsProviderError',
  'ExpiredToken',
  'ExpiredTokenException',
  'UnrecognizedClientException',
  'InvalidClientTokenId',
  'InvalidSignatureException',
  'SignatureDoesNotMatch',
  'TokenProviderError',
]);

function hint(name: string, message: string, where: Where): string | undefined {
  if (name === 'ResourceNotFoundException' && /function/i.test(message)) {
    return (
      `Is the stack ${stackName(where.env)} deployed in this account and region (${where.region ?? 'your default region'})? ` +
      `(environments in cdk.json: ${where.known.join(', ') || 'none'}; choose another region with --region)`
    );
  }
  if (name === 'TooManyRequestsException') {
    return "Lambda throttled the run: the account's concurrency (or the environment's reservedConcurrency) is in use; try again in a few minutes.";
  }
  if (name === 'AccessDeniedException' || name === 'AccessDenied') {
    return 'Your credentials lack a permission docs/operating.md lists under "Operator command line".';
  }
  if (/region is missing/i.test(message)) {
    return 'No AWS region: pass --region, set AWS_REGION, or give the environment a "region" in cdk.json.';
  }
  if (CREDENTIAL_ERRORS.has(name) || /could not load credentials|security token|sso session/i.test(message)) {
    return (
      'AWS did not accept your credentials: sign in again (aws sso login --profile NAME), choose a profile with ' +
      '--profile or AWS_PROFILE, or check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.'
    );
  }
  if (CONNECTION.test(`${name} ${message}`) || name === 'TimeoutError') {
    return (
      `Could not reach AWS${where.endpoint ? ` at AWS_ENDPOINT_URL=${where.endpoint}` : ''} in ${where.region ?? 'your default region'}: ` +
      'check the network (proxy, VPN), the region, and AWS_ENDPOINT_URL if you set one.'
    );
  }
  return undefined;
}

/** What the error means and what to do, when known; undefined for an error it knows nothing of. */
export function hintOf(error: unknown, where: Where): string | undefined {
  const name = (error as { name?: string } | undefined)?.name ?? '';
  const code = (error as { code?: string } | undefined)?.code ?? '';
  return hint(name || code, `${code} ${messageOf(error)}`, where);
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The error's message, then on its own line what it means and what to do, when known. */
export function explain(error: unknown, where: Where): string {
  const text = hintOf(error, where);
  return text ? `${messageOf(error)}\n${text}` : messageOf(error);
}
