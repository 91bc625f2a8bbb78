import { describe, expect, it } from 'vitest';
import { REDACTED, redact, redactingReplacer, registerSecret } from '../../lambda/redaction.ts';

describe('redaction', () => {
  it('replaces a registered secret wherever it appears in a logged structure', () => {
    const secret = 'S3cr3tRegistrationTokenValue==';
    registerSecret(secret);
    const line = JSON.stringify(
      { message: `oops ${secret}`, nested: { list: [secret, 'fine'] } },
      redactingReplacer,
    );
    expect(line).not.toContain(secret);
    expect(line).toContain(REDACTED);
    expect(line).toContain('fine');
  });

  it('replaces every occurrence of a secret in one string, not only the first', () => {
    // Prepare
    const secret = 'TwiceLoggedRegistrationTokenValue';
    registerSecret(secret);

    // Act
    const text = redact(`first ${secret}, then ${secret}${secret}`);

    // Assess
    expect(text).toBe(`first ${REDACTED}, then ${REDACTED}${REDACTED}`);
  });

  it('leaves text without a secret unchanged', () => {
    expect(redact('nothing to hide here')).toBe('nothing to hide here');
  });

  it('goes through the Powertools logger hook', async () => {
    const secret = 'AnotherTokenValueForLoggerTest1';
    registerSecret(secret);
    const { logger } = await import('../../lambda/logger.ts');
    const written: string[] = [];
    const original = process.stdout.write.bind(process.stdout);
    process.stdout.write = ((chunk: string) => {
      written.push(String(chunk));
      return true;
    }) as typeof process.stdout.write;
    try {
      logger.info('delivering', { detail: `token=${secret}` });
    } finally {
      process.stdout.write = original;
    }
    expect(written.join('')).toContain('delivering');
    expect(written.join('')).not.toContain(secret);
    expect(written.join('')).toContain(REDACTED);
  });
});

describe('which values are kept out of logs', () => {
  it('redacts a secret of exactly 8 characters', () => {
    // Prepare
    registerSecret('Zq8Xw3Lp');

    // Act
    const text = redact('value=Zq8Xw3Lp;');

    // Assess
    expect(text).toBe(`value=${REDACTED};`);
  });

  it('ignores a value shorter than 8 characters, so common words in log lines stay readable', () => {
    // Prepare
    registerSecret('host');

    // Act
    const text = redact('host i-0abc answered');

    // Assess
    expect(text).toBe('host i-0abc answered');
  });

  it('writes a bigint in a logged structure as its digits, where JSON alone would throw', () => {
    // Act
    const line = JSON.stringify({ publicExponent: 65537n, bits: 2048 }, redactingReplacer);

    // Assess
    expect(line).toBe('{"publicExponent":"65537","bits":2048}');
  });
});
