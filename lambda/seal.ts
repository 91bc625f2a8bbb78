/** Seals the registration token to one host's ephemeral public key (RSA-OAEP, SHA-256). */
import { constants, createPublicKey, publicEncrypt } from 'node:crypto';

export class SealError extends Error {
  override readonly name = 'SealError';
}

/** Returns base64 ciphertext; only the host holding the private key can open it. */
export function sealFor(spkiDerBase64: string, token: string): string {
  let key: ReturnType<typeof createPublicKey>;
  try {
    key = createPublicKey({ key: Buffer.from(spkiDerBase64, 'base64'), format: 'der', type: 'spki' });
  } catch {
    throw new SealError('the host returned a public key that does not parse');
  }
  if (key.asymmetricKeyType !== 'rsa') {
    throw new SealError(`the host returned a ${key.asymmetricKeyType ?? 'non-RSA'} key, not RSA-2048`);
  }
  const bits = key.asymmetricKeyDetails?.modulusLength;
  if (bits !== 2048) {
    throw new SealError(
      `the host returned an RSA key of ${bits ?? 'unknown'} bits; only RSA-2048 is accepted`,
    );
  }
  // Both scripts make keys with exponent 65537; anything else (e = 3, a huge e) is not a key they made.
  const exponent = key.asymmetricKeyDetails?.publicExponent;
  if (exponent !== 65537n) {
    throw new SealError(
      `the host returned an RSA key with public exponent ${exponent ?? 'unknown'}; only 65537 is accepted`,
    );
  }
  return publicEncrypt(
    { key, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' },
    Buffer.from(token, 'utf8'),
  ).toString('base64');
}
