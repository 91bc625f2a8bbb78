import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { describe, expect, it } from 'vitest';
import { secretArn } from './server.ts';
import { REGION, rejection, ShellFleet, secretsClient, serversPerTest } from './testkit.ts';

const NAME = 'kasm/component-registration-token';
const VALUE = 'MjAyNzk0MmUtZjQzMS00NDZlLWFkODMtOGU2OWVmMzk3MGQx\n';

const startServer = serversPerTest();

async function setUp(secrets: ReadonlyMap<string, string | null>): Promise<SecretsManagerClient> {
  return secretsClient(await startServer(new ShellFleet([]), { secrets }));
}

describe('GetSecretValue', () => {
  it('returns the secret string exactly as stored, with its ARN, version and AWSCURRENT stage', async () => {
    // Prepare
    const client = await setUp(new Map([[NAME, VALUE]]));

    // Act
    const out = await client.send(new GetSecretValueCommand({ SecretId: NAME }));

    // Assess
    expect(out.SecretString).toBe(VALUE);
    expect(out.Name).toBe(NAME);
    expect(out.ARN).toBe(`arn:aws:secretsmanager:${REGION}:123456789012:secret:${NAME}-AbCdEf`);
    expect(out.VersionId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-a[0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(out.VersionStages).toEqual(['AWSCURRENT']);
    expect(out.CreatedDate).toBeInstanceOf(Date);
  });

  it('finds the same secret by its full ARN and by its partial ARN', async () => {
    // Prepare
    const client = await setUp(new Map([[NAME, VALUE]]));
    const arn = secretArn(REGION, NAME);

    // Act
    const full = await client.send(new GetSecretValueCommand({ SecretId: arn }));
    const partial = await client.send(
      new GetSecretValueCommand({ SecretId: arn.slice(0, -'-AbCdEf'.length) }),
    );
    const otherRegion = await rejection(
      client.send(new GetSecretValueCommand({ SecretId: secretArn('us-east-1', NAME) })),
    );

    // Assess
    expect(full.SecretString).toBe(VALUE);
    expect(full.Name).toBe(NAME);
    expect(partial.ARN).toBe(arn);
    expect(otherRegion.name).toBe('ResourceNotFoundException');
  });

  it("answers ResourceNotFoundException with AWS's message for a missing secret and for a null one", async () => {
    // Prepare
    const client = await setUp(new Map([[NAME, null]]));

    // Act
    const nulled = await rejection(client.send(new GetSecretValueCommand({ SecretId: NAME })));
    const missing = await rejection(client.send(new GetSecretValueCommand({ SecretId: 'never/created' })));

    // Assess
    expect(nulled.name).toBe('ResourceNotFoundException');
    expect(nulled.message).toBe("Secrets Manager can't find the specified secret.");
    expect(missing.name).toBe('ResourceNotFoundException');
    expect(missing.message).toBe("Secrets Manager can't find the specified secret.");
  });

  it('answers ResourceNotFoundException for a version stage other than AWSCURRENT', async () => {
    // Prepare
    const client = await setUp(new Map([[NAME, VALUE]]));

    // Act
    const current = await client.send(
      new GetSecretValueCommand({ SecretId: NAME, VersionStage: 'AWSCURRENT' }),
    );
    const previous = await rejection(
      client.send(new GetSecretValueCommand({ SecretId: NAME, VersionStage: 'AWSPREVIOUS' })),
    );

    // Assess
    expect(current.SecretString).toBe(VALUE);
    expect(previous.name).toBe('ResourceNotFoundException');
  });
});
