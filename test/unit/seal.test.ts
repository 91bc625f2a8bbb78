import { constants, generateKeyPairSync, privateDecrypt } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { errorName } from '../../lambda/aws/aws-call.ts';
import { SealError, sealFor } from '../../lambda/seal.ts';

describe('sealFor', () => {
  it('seals with RSA-OAEP SHA-256 so that only the private key opens it', () => {
    const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const spki = publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
    const sealed = sealFor(spki, 'MjAyNzk0MmUt');
    expect(sealed).toMatch(/^[A-Za-z0-9+/]{342}==$/);
    const opened = privateDecrypt(
      { key: privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' },
      Buffer.from(sealed, 'base64'),
    );
    expect(opened.toString()).toBe('MjAyNzk0MmUt');
  });
  it('refuses a key that is not RSA-2048', () => {
    const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 1024 });
    expect(() => sealFor(publicKey.export({ type: 'spki', format: 'der' }).toString('base64'), 'x')).toThrow(
      SealError,
    );
  });
  it('refuses an RSA key larger than 2048 bits, since the host scripts make exactly RSA-2048', () => {
    // Prepare
    const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 3072 });
    const spki = publicKey.export({ type: 'spki', format: 'der' }).toString('base64');

    // Act
    const sealing = () => sealFor(spki, 'MjAyNzk0MmUt');

    // Assess
    expect(sealing).toThrow(SealError);
    expect(sealing).toThrow(/only RSA-2048 is accepted/);
  });
  it('refuses bytes that are not a key', () => {
    expect(() => sealFor('AAAA', 'x')).toThrow(/does not parse/);
  });
});

describe('sealFor and the shape of the host key', () => {
  const spkiOf = (options: { modulusLength: number; publicExponent?: number }) =>
    generateKeyPairSync('rsa', options).publicKey.export({ type: 'spki', format: 'der' }).toString('base64');

  it('refuses an RSA key larger than 2048 bits, naming its size', () => {
    // Prepare
    const spki = spkiOf({ modulusLength: 3072 });

    // Act
    const act = () => sealFor(spki, 'x');

    // Assess
    expect(act).toThrow(SealError);
    expect(act).toThrow(/3072 bits; only RSA-2048/);
  });

  it('refuses an RSA-2048 key whose public exponent is 3, naming the exponent', () => {
    // Prepare
    const spki = spkiOf({ modulusLength: 2048, publicExponent: 3 });

    // Act
    const act = () => sealFor(spki, 'x');

    // Assess
    expect(act).toThrow(SealError);
    expect(act).toThrow(/public exponent 3; only 65537/);
  });

  it('refuses an RSA-2048 key with a larger exponent than 65537', () => {
    // Prepare
    const spki = spkiOf({ modulusLength: 2048, publicExponent: 65539 });

    // Act + Assess
    expect(() => sealFor(spki, 'x')).toThrow(/public exponent 65539/);
  });

  it('refuses a key that is not RSA at all', () => {
    // Prepare
    const spki = generateKeyPairSync('ec', { namedCurve: 'P-256' })
      .publicKey.export({ type: 'spki', format: 'der' })
      .toString('base64');

    // Act + Assess
    expect(() => sealFor(spki, 'x')).toThrow(/ec key, not RSA-2048/);
  });

  it('refuses a key of a type Node cannot name (an SM2 key), calling it non-RSA', () => {
    // Prepare: the SubjectPublicKeyInfo of an SM2 key (made with `openssl genpkey -algorithm SM2`).
    const sm2 =
      'MFkwEwYHKoZIzj0CAQYIKoEcz1UBgi0DQgAE3JnIitKnzqALTq355O6HQauF2J5JzzjhW7VSTPl3IFOrPOVHUhnUNwAEYafmzKeeOig0g4/f9OKCLj8plrvnDQ==';

    // Act + Assess
    expect(() => sealFor(sm2, 'x')).toThrow('the host returned a non-RSA key, not RSA-2048');
  });
});

describe('SealError', () => {
  it('names itself, so a report built from the error says that sealing refused the key', () => {
    // Act
    let thrown: unknown;
    try {
      sealFor('AAAA', 'x');
    } catch (error) {
      thrown = error;
    }

    // Assess
    expect(thrown).toBeInstanceOf(SealError);
    expect(errorName(thrown)).toBe('SealError: the host returned a public key that does not parse');
  });
});
