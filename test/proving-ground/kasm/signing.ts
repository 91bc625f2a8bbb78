/**
 * The simulated Kasm Admin API's signing key: RS256 JWTs issued and checked as Kasm does, both for the
 * HTTPS endpoints (admin-api.ts) and, synchronously, for modelled components that exchange tokens
 * in-process.
 */
import { createPublicKey, KeyObject, randomUUID, sign as rsaSign, verify } from 'node:crypto';
import { compactVerify, exportSPKI, generateKeyPair } from 'jose';
import { COMPONENTS, type ComponentName } from './catalog.ts';

export interface TokenCheck {
  /** The text is a JWT whose RS256 signature verifies with this API's key. */
  readonly signatureValid: boolean;
  /** Signature valid and exp in the future. */
  readonly valid: boolean;
  /** Signature valid and now < exp + grace: it can still be exchanged. */
  readonly exchangeable: boolean;
  readonly exp?: number;
  readonly payload?: Readonly<Record<string, unknown>>;
}

type JoseKey = Awaited<ReturnType<typeof generateKeyPair>>['publicKey'];

const HEADER = Buffer.from(JSON.stringify({ alg: 'RS256', typ: 'JWT' })).toString('base64url');

export class KasmSigner {
  private constructor(
    readonly publicKeyPem: string,
    private readonly privateKey: KeyObject,
    private readonly publicKey: KeyObject,
    private readonly joseKey: JoseKey,
    private readonly lifetime: number,
    private readonly grace: number,
  ) {}

  static async create(lifetimeSeconds: number, graceSeconds: number): Promise<KasmSigner> {
    const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
    const pem = await exportSPKI(publicKey);
    return new KasmSigner(
      pem,
      KeyObject.from(privateKey),
      createPublicKey(pem),
      publicKey,
      lifetimeSeconds,
      graceSeconds,
    );
  }

  /** An RS256 JWT laid out as jose's SignJWT lays it out (claims, then iat, then exp), signed synchronously. */
  sign(claims: Record<string, unknown>, exp: number, nowMs = Date.now()): string {
    const iat = Math.min(Math.floor(nowMs / 1000), exp - Math.ceil(this.lifetime));
    const payload = Buffer.from(JSON.stringify({ ...claims, iat, exp })).toString('base64url');
    const signature = rsaSign('RSA-SHA256', Buffer.from(`${HEADER}.${payload}`), this.privateKey);
    return `${HEADER}.${payload}.${signature.toString('base64url')}`;
  }

  /** The claims Kasm puts in a component's token: its id under the component's own claim, its rights. */
  claimsFor(component: ComponentName, id: string = randomUUID()): Record<string, unknown> {
    const spec = COMPONENTS[component];
    return { [spec.idClaim]: id, authorizations: [...spec.authorizations] };
  }

  /** A fresh token's exp: a lifetime from now. */
  newExp(): number {
    return Math.floor(Date.now() / 1000 + this.lifetime);
  }

  /** Synchronous signature + expiry check. */
  check(token: string, nowMs = Date.now()): TokenCheck {
    const invalid: TokenCheck = { signatureValid: false, valid: false, exchangeable: false };
    const parts = token.trim().split('.');
    if (parts.length !== 3) return invalid;
    const [h, p, s] = parts as [string, string, string];
    try {
      const header = JSON.parse(Buffer.from(h, 'base64url').toString('utf8')) as { alg?: unknown };
      if (header.alg !== 'RS256') return invalid;
      const ok = verify('RSA-SHA256', Buffer.from(`${h}.${p}`), this.publicKey, Buffer.from(s, 'base64url'));
      if (!ok) return invalid;
      const payload = JSON.parse(Buffer.from(p, 'base64url').toString('utf8')) as Record<string, unknown>;
      const exp = typeof payload.exp === 'number' ? payload.exp : undefined;
      const now = nowMs / 1000;
      return {
        signatureValid: true,
        valid: exp !== undefined && exp > now,
        exchangeable: exp !== undefined && now < exp + this.grace,
        ...(exp === undefined ? {} : { exp }),
        payload,
      };
    } catch {
      return invalid;
    }
  }

  /** Verifies with jose (the signature only); undefined when the token is not ours. */
  async verifiedPayload(token: string): Promise<Record<string, unknown> | undefined> {
    try {
      const { payload } = await compactVerify(token, this.joseKey, { algorithms: ['RS256'] });
      return JSON.parse(new TextDecoder().decode(payload)) as Record<string, unknown>;
    } catch {
      return undefined;
    }
  }
}
