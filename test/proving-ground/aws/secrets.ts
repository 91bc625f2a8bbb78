/**
 * Secrets Manager's GetSecretValue.
 * https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_GetSecretValue.html
 */
import { createHash } from 'node:crypto';
import { constraint, epochSeconds, type Json, modeled, optionalString, Violations } from './wire.ts';

export const ACCOUNT_ID = '123456789012';
/** Secrets Manager appends a hyphen and six random characters to a secret's name in its ARN. */
const ARN_SUFFIX = 'AbCdEf';

/** The ARN the proving ground gives a secret: `arn:aws:secretsmanager:<region>:123456789012:secret:<name>-AbCdEf`. */
export function secretArn(region: string, name: string): string {
  return `arn:aws:secretsmanager:${region}:${ACCOUNT_ID}:secret:${name}-${ARN_SUFFIX}`;
}

export interface SecretsOptions {
  readonly secrets: ReadonlyMap<string, string | null>;
  readonly region: string;
}

export class SecretsService {
  private readonly created = new Date();

  constructor(private readonly options: SecretsOptions) {}

  handle(operation: string, input: Json): unknown {
    return operation === 'GetSecretValue' ? this.getSecretValue(input) : undefined;
  }

  private getSecretValue(input: Json): Json {
    const v = new Violations();
    const secretId = optionalString(input, 'SecretId');
    // SecretId: Required, "Length Constraints: Minimum length of 1. Maximum length of 2048."
    if (secretId === undefined) v.add(undefined, 'secretId', constraint.notNull);
    else if (secretId.length < 1) v.add(secretId, 'secretId', constraint.minLength(1));
    else if (secretId.length > 2048) v.add(secretId, 'secretId', constraint.maxLength(2048));
    const versionId = optionalString(input, 'VersionId');
    // VersionId: "Minimum length of 32. Maximum length of 64."
    if (versionId !== undefined && (versionId.length < 32 || versionId.length > 64)) {
      v.add(
        versionId,
        'versionId',
        versionId.length < 32 ? constraint.minLength(32) : constraint.maxLength(64),
      );
    }
    const versionStage = optionalString(input, 'VersionStage');
    // VersionStage: "Minimum length of 1. Maximum length of 256."
    if (versionStage !== undefined && (versionStage.length < 1 || versionStage.length > 256)) {
      v.add(
        versionStage,
        'versionStage',
        versionStage.length < 1 ? constraint.minLength(1) : constraint.maxLength(256),
      );
    }
    v.throwIfAny();

    const name = this.resolveName(secretId ?? '');
    const value = name === undefined ? undefined : this.options.secrets.get(name);
    if (name === undefined || value === undefined || value === null) {
      throw modeled('ResourceNotFoundException', "Secrets Manager can't find the specified secret.");
    }
    const currentVersion = versionIdFor(name);
    if (versionId !== undefined && versionId !== currentVersion) {
      throw modeled(
        'ResourceNotFoundException',
        `Secrets Manager can't find the specified secret value for VersionId: ${versionId}`,
      );
    }
    if (versionStage !== undefined && versionStage !== 'AWSCURRENT') {
      throw modeled(
        'ResourceNotFoundException',
        `Secrets Manager can't find the specified secret value for staging label: ${versionStage}`,
      );
    }
    return {
      ARN: secretArn(this.options.region, name),
      Name: name,
      VersionId: currentVersion,
      SecretString: value,
      VersionStages: ['AWSCURRENT'],
      CreatedDate: epochSeconds(this.created),
    };
  }

  /** A secret is found by name, by its full ARN, or by a partial ARN (the ARN without the suffix). */
  private resolveName(secretId: string): string | undefined {
    if (!secretId.startsWith('arn:')) return secretId;
    const prefix = `arn:aws:secretsmanager:${this.options.region}:${ACCOUNT_ID}:secret:`;
    if (!secretId.startsWith(prefix)) return undefined;
    const rest = secretId.slice(prefix.length);
    if (rest.endsWith(`-${ARN_SUFFIX}`)) return rest.slice(0, -(ARN_SUFFIX.length + 1));
    return rest;
  }
}

function versionIdFor(name: string): string {
  const h = createHash('sha256').update(`version:${name}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}
