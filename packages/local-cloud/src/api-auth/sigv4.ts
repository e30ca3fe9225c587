import { createHash, timingSafeEqual } from 'node:crypto';
import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';

/** A caller the local API knows: its keys, and who it is to the IAM evaluator. */
export interface LocalIdentity {
  /** Short name, for the start banner and the trace. */
  name: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** The principal the policies are evaluated for, e.g. arn:aws:iam::000000000000:user/local-client. */
  principalArn: string;
}

/** How API Gateway refuses a request before it reaches the integration. */
export interface AuthRefusal {
  /** The gateway response type the template may customize. */
  responseType: string;
  /** What API Gateway sends in x-amzn-ErrorType. */
  errorType: string;
  message: string;
}

export type Authentication = { ok: true; identity: LocalIdentity } | ({ ok: false } & AuthRefusal);

export interface SignedRequest {
  method: string;
  /** Path and query as received, still percent-encoded: the client signed that form. */
  url: string;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** AWS refuses a signature dated further than this from its own clock, either way. */
export const MAX_CLOCK_SKEW_MS = 5 * 60 * 1000;

const SIGNATURE_MISMATCH =
  'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.';

const incomplete = (message: string): Authentication => ({
  ok: false,
  responseType: 'INCOMPLETE_SIGNATURE',
  errorType: 'IncompleteSignatureException',
  message,
});
const invalid = (message: string): Authentication => ({
  ok: false,
  responseType: 'INVALID_SIGNATURE',
  errorType: 'InvalidSignatureException',
  message,
});

function headerOf(headers: SignedRequest['headers'], name: string): string | undefined {
  const value = headers[name] ?? headers[name.toLowerCase()];
  return Array.isArray(value) ? value.join(',') : value;
}

/** 20260101T120000Z, the only date form SigV4 signs. */
function parseAmzDate(text: string): Date | undefined {
  const match = text.match(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/);
  if (!match) return undefined;
  const [, year, month, day, hour, minute, second] = match.map(Number);
  return new Date(Date.UTC(year ?? 0, (month ?? 1) - 1, day, hour, minute, second));
}

function sameText(left: string, right: string): boolean {
  const a = Buffer.from(left);
  const b = Buffer.from(right);
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * Checks a request's SigV4 Authorization header the way API Gateway does for IAM-authorized methods: the
 * signature is recomputed over exactly the headers the client says it signed, with the secret of the key it
 * names, so a changed body, path or signed header, another secret, an unknown key or a stale date is refused
 * with the error type AWS would send.
 */
export async function authenticate(
  request: SignedRequest,
  identities: readonly LocalIdentity[],
  now = new Date(),
): Promise<Authentication> {
  const authorization = headerOf(request.headers, 'authorization');
  if (!authorization) {
    return {
      ok: false,
      responseType: 'MISSING_AUTHENTICATION_TOKEN',
      errorType: 'MissingAuthenticationTokenException',
      message: 'Missing Authentication Token',
    };
  }
  const [algorithm, ...rest] = authorization.trim().split(/\s+/);
  if (algorithm !== 'AWS4-HMAC-SHA256') {
    return incomplete(
      `Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header and the AWS4-HMAC-SHA256 algorithm. Authorization=${authorization}`,
    );
  }
  const fields = Object.fromEntries(
    rest
      .join(' ')
      .split(',')
      .map((part) => part.trim().split('='))
      .map(([key, ...value]) => [key ?? '', value.join('=')]),
  );
  for (const required of ['Credential', 'SignedHeaders', 'Signature']) {
    if (!fields[required]) {
      return incomplete(
        `Authorization header requires '${required}' parameter. Authorization=${authorization}`,
      );
    }
  }
  const [accessKeyId = '', shortDate, region, service, terminator] = String(fields.Credential).split('/');
  if (!shortDate || !region || !service || terminator !== 'aws4_request') {
    return incomplete(
      `Credential should be scoped to a valid region, service and 'aws4_request'. Authorization=${authorization}`,
    );
  }
  const signedHeaders = String(fields.SignedHeaders).split(';');
  const amzDate = headerOf(request.headers, 'x-amz-date');
  const signingDate = amzDate ? parseAmzDate(amzDate) : undefined;
  if (!signingDate || !signedHeaders.includes('host') || !signedHeaders.includes('x-amz-date')) {
    return incomplete(
      `Authorization header requires a signed 'host' header and a signed 'X-Amz-Date' header in the form yyyyMMddTHHmmssZ. Authorization=${authorization}`,
    );
  }
  const identity = identities.find((candidate) => candidate.accessKeyId === accessKeyId);
  if (!identity) {
    return {
      ok: false,
      // API Gateway answers an unknown key as a failed signature check, under its own error type.
      responseType: 'INVALID_SIGNATURE',
      errorType: 'UnrecognizedClientException',
      message: 'The security token included in the request is invalid.',
    };
  }
  const skew = signingDate.getTime() - now.getTime();
  if (Math.abs(skew) > MAX_CLOCK_SKEW_MS) {
    const limit = new Date(now.getTime() + Math.sign(skew) * MAX_CLOCK_SKEW_MS);
    const stamp = (date: Date) => date.toISOString().replace(/[-:]|\.\d{3}/g, '');
    return invalid(
      skew < 0
        ? `Signature expired: ${amzDate} is now earlier than ${stamp(limit)} (${stamp(now)} - 5 min.)`
        : `Signature not yet current: ${amzDate} is still later than ${stamp(limit)} (${stamp(now)} + 5 min.)`,
    );
  }
  if (!amzDate?.startsWith(shortDate))
    return invalid(
      `Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '${shortDate}' != '${amzDate?.slice(0, 8)}'`,
    );

  // The signer would trust a payload hash header as given; AWS compares it with the body, and so do we.
  const payloadHash = headerOf(request.headers, 'x-amz-content-sha256');
  const bodyHash = createHash('sha256').update(request.body, 'utf8').digest('hex');
  if (payloadHash && payloadHash !== 'UNSIGNED-PAYLOAD' && payloadHash !== bodyHash) {
    return invalid('The provided x-amz-content-sha256 header does not match what was computed.');
  }

  const url = new URL(request.url, 'http://local');
  const headers: Record<string, string> = {};
  for (const name of signedHeaders) {
    const value = headerOf(request.headers, name);
    if (value === undefined) return invalid(SIGNATURE_MISMATCH);
    headers[name] = value;
  }
  const query: Record<string, string | string[]> = {};
  for (const key of new Set(url.searchParams.keys())) {
    const values = url.searchParams.getAll(key);
    query[key] = values.length === 1 ? (values[0] ?? '') : values;
  }
  const signer = new SignatureV4({
    credentials: { accessKeyId, secretAccessKey: identity.secretAccessKey },
    region,
    service,
    sha256: Sha256,
    // Adding a payload hash header would sign a header the client did not sign.
    applyChecksum: false,
  });
  const signed = await signer.sign(
    {
      method: request.method.toUpperCase(),
      protocol: 'https:',
      hostname: headers.host ?? 'localhost',
      path: url.pathname,
      query,
      headers,
      body: request.body === '' ? undefined : request.body,
    },
    // Exactly the client's list: user-agent and the like are unsignable by default but signable on request.
    { signingDate, signingRegion: region, signingService: service, signableHeaders: new Set(signedHeaders) },
  );
  const expected = String(signed.headers.authorization ?? '').match(/Signature=([0-9a-f]+)/)?.[1] ?? '';
  return sameText(expected, String(fields.Signature)) ? { ok: true, identity } : invalid(SIGNATURE_MISMATCH);
}
