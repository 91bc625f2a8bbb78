/**
 * What a registration token secret must hold, checked the same way by the function (every
 * run) and by `npm run ops -- preflight` (before a deploy rests on it). Problems name the
 * secret, never its content.
 */
export type SecretRead =
  | { readonly ok: true; readonly token: string }
  | { readonly ok: false; readonly problem: string };

/**
 * RSA-OAEP with SHA-256 under a 2048-bit key seals at most 256 - 2*32 - 2 = 190 bytes.
 * Kasm's tokens are about 48 characters, so a longer value is a wrong secret.
 */
export const MAX_TOKEN_BYTES = 190;
const PLAUSIBLE = /^[A-Za-z0-9+/=._-]+$/;

/** Validates a secret's value; problems name the secret, never its content. */
export function tokenFromSecretString(
  secretString: string,
  secretId: string,
  jsonField?: string,
): SecretRead {
  let raw: unknown = secretString;
  if (jsonField !== undefined) {
    try {
      raw = (JSON.parse(secretString) as Record<string, unknown>)[jsonField];
    } catch {
      return {
        ok: false,
        problem: `The secret "${secretId}" is not JSON, but a JSON field ("${jsonField}") is configured.`,
      };
    }
    if (typeof raw !== 'string') {
      return { ok: false, problem: `The secret "${secretId}" has no string field "${jsonField}".` };
    }
  }
  const token = (raw as string).trimEnd();
  if (token.length === 0) return { ok: false, problem: `The secret "${secretId}" is empty.` };
  if (/[\r\n]/.test(token)) {
    return {
      ok: false,
      problem: `The secret "${secretId}" holds more than one line; it must hold only the token.`,
    };
  }
  if (!PLAUSIBLE.test(token)) {
    return {
      ok: false,
      problem: `The secret "${secretId}" holds characters a Kasm registration token never has (expected base64 text).`,
    };
  }
  if (Buffer.byteLength(token) > MAX_TOKEN_BYTES) {
    return {
      ok: false,
      problem: `The secret "${secretId}" is longer than ${MAX_TOKEN_BYTES} bytes; it is not a registration token.`,
    };
  }
  return { ok: true, token };
}
