import { Sha256 } from '@aws-crypto/sha256-js';
import { fromNodeProviderChain } from '@aws-sdk/credential-providers';
import { SignatureV4 } from '@smithy/signature-v4';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';

export type Credentials = AwsCredentialIdentity | AwsCredentialIdentityProvider;

/** Who calls: the client and operator identities of the target, or nobody (no signature). */
export type CallerRole = 'client' | 'operator' | 'unsigned';

export interface ApiAnswer {
  status: number;
  headers: Headers;
  /** The parsed JSON body, or undefined when it is not JSON. */
  body: unknown;
  text: string;
}

export interface CallOptions {
  as?: CallerRole;
  headers?: Record<string, string>;
  /** An object is sent as JSON; a string as it is. */
  body?: unknown;
}

/**
 * The public API as any SigV4 client calls it: each request signed for execute-api with the caller's keys,
 * exactly what `awscurl` or an SDK-signed fetch sends to API Gateway.
 */
export class PublicApi {
  private readonly signers: Partial<Record<CallerRole, SignatureV4>> = {};

  constructor(
    readonly baseUrl: string,
    region: string,
    identities: { client: Credentials; operator: Credentials },
  ) {
    for (const role of ['client', 'operator'] as const) {
      this.signers[role] = new SignatureV4({
        credentials: identities[role],
        region,
        service: 'execute-api',
        sha256: Sha256,
      });
    }
  }

  async call(method: string, path: string, options: CallOptions = {}): Promise<ApiAnswer> {
    const url = new URL(`${this.baseUrl}${path}`);
    const body =
      options.body === undefined
        ? undefined
        : typeof options.body === 'string'
          ? options.body
          : JSON.stringify(options.body);
    let headers: Record<string, string> = {
      host: url.host,
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      ...options.headers,
    };
    const signer = this.signers[options.as ?? 'client'];
    if (signer) {
      const signed = await signer.sign({
        method,
        protocol: url.protocol,
        hostname: url.hostname,
        port: url.port ? Number(url.port) : undefined,
        path: url.pathname,
        query: Object.fromEntries(url.searchParams),
        headers,
        body,
      });
      headers = signed.headers as Record<string, string>;
    }
    // fetch sets the host itself; a second one would be refused.
    const { host: _host, ...sent } = headers;
    const response = await fetch(url, { method, headers: sent, body, signal: AbortSignal.timeout(30_000) });
    const text = await response.text();
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    return { status: response.status, headers: response.headers, body: parsed, text };
  }
}

/** The deployer's credentials, as the AWS CLI and SDKs find them (env, profile, SSO, instance role). */
export function defaultCredentialChain(): AwsCredentialIdentityProvider {
  return fromNodeProviderChain();
}
