import { constants, generateKeyPairSync, privateDecrypt } from 'node:crypto';
import { describe, expect, it } from 'vitest';
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
    expect(sealing).toThrow(/not RSA-2048/);
  });
  it('refuses bytes that are not a key', () => {
    expect(() => sealFor('AAAA', 'x')).toThrow(/does not parse/);
  });
});
