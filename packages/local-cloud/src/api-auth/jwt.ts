import { createPublicKey, generateKeyPairSync, type KeyObject, randomUUID, sign, verify } from 'node:crypto';

/** What a token's payload holds: claims API Gateway hands the function as strings. */
export type Claims = Record<string, string | number | boolean>;

export type TokenCheck =
  | { ok: true; claims: Claims }
  | {
      ok: false;
      message: string;
      reason: 'missing' | 'malformed' | 'signature' | 'issuer' | 'expired' | 'use';
    };

const base64url = (value: string | Buffer) => Buffer.from(value).toString('base64url');

function decodeJson(part: string | undefined): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(part ?? '', 'base64url').toString('utf8'));
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A local stand-in for the user pools' signing keys: one RSA key made at start (so a token of an earlier run is
 * never accepted), RS256 ID tokens as Cognito issues them, and the checks API Gateway's Cognito authorizer makes.
 */
export class LocalTokenIssuer {
  readonly keyId = randomUUID();
  private readonly privateKey: KeyObject;
  private readonly publicKey: KeyObject;

  constructor() {
    const pair = generateKeyPairSync('rsa', { modulusLength: 2048 });
    this.privateKey = pair.privateKey;
    this.publicKey = pair.publicKey;
  }

  /** The public key as a JWKS document, as `<issuer>/.well-known/jwks.json` serves it. */
  jwks(): { keys: object[] } {
    return {
      keys: [
        {
          ...createPublicKey(this.publicKey).export({ format: 'jwk' }),
          kid: this.keyId,
          alg: 'RS256',
          use: 'sig',
        },
      ],
    };
  }

  /** An ID token of `issuer` for `audience` (an app client id), valid `lifetimeSeconds` from now. */
  issue(claims: Claims, issuer: string, audience: string, lifetimeSeconds = 3600, now = Date.now()): string {
    const issuedAt = Math.floor(now / 1000);
    const header = base64url(JSON.stringify({ alg: 'RS256', kid: this.keyId, typ: 'JWT' }));
    const payload = base64url(
      JSON.stringify({
        token_use: 'id',
        auth_time: issuedAt,
        ...claims,
        iss: issuer,
        aud: audience,
        iat: issuedAt,
        exp: issuedAt + lifetimeSeconds,
      }),
    );
    const signature = sign('sha256', Buffer.from(`${header}.${payload}`), this.privateKey);
    return `${header}.${payload}.${base64url(signature)}`;
  }

  /**
   * What API Gateway's Cognito authorizer checks of the identity source's value: an RS256 signature by the
   * pool's key, an issuer among the authorizer's pools, an ID token (a method without scopes takes no access
   * token), and not expired. The audience is not checked: any app client of the pool may call.
   */
  check(token: string | undefined, issuers: readonly string[], now = Date.now()): TokenCheck {
    if (!token) return { ok: false, reason: 'missing', message: 'Unauthorized' };
    const [header, payload, signature, ...rest] = token.replace(/^Bearer\s+/i, '').split('.');
    const head = decodeJson(header);
    const claims = decodeJson(payload);
    if (!head || !claims || signature === undefined || rest.length > 0)
      return { ok: false, reason: 'malformed', message: 'Unauthorized' };
    const signed =
      head.alg === 'RS256' &&
      head.kid === this.keyId &&
      verify(
        'sha256',
        Buffer.from(`${header}.${payload}`),
        this.publicKey,
        Buffer.from(signature, 'base64url'),
      );
    if (!signed) return { ok: false, reason: 'signature', message: 'Unauthorized' };
    if (typeof claims.iss !== 'string' || !issuers.includes(claims.iss))
      return { ok: false, reason: 'issuer', message: 'Unauthorized' };
    if (claims.token_use !== 'id') return { ok: false, reason: 'use', message: 'Unauthorized' };
    if (typeof claims.exp !== 'number' || claims.exp * 1000 <= now)
      return { ok: false, reason: 'expired', message: 'The incoming token has expired' };
    return { ok: true, claims: claims as Claims };
  }
}
