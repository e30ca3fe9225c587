import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FaultAnswer } from './fault-answers.js';
import { type AwsCall, parseAwsCall } from './requests.js';

/** Decides whether an AWS call gets a fault's (or IAM's) answer instead of the emulator's. */
export type AwsCallHook = (call: AwsCall) => FaultAnswer | undefined | Promise<FaultAnswer | undefined>;

export async function readRawBody(request: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

export function sendAnswer(response: ServerResponse, answer: FaultAnswer): void {
  response.writeHead(answer.status, answer.headers);
  response.end(answer.body);
}

/** The fault answer for this request if the hook has one; the request's body is read either way. */
export async function answerOrBody(
  request: IncomingMessage,
  hook: AwsCallHook | undefined,
): Promise<{ answer?: FaultAnswer; body: Buffer }> {
  const body = await readRawBody(request);
  const call = hook ? parseAwsCall(request.headers, body.toString('utf8')) : undefined;
  return { answer: call && (await hook?.(call)), body };
}

/**
 * Sends an already-read request on to an emulator on loopback, headers (Host included) unchanged, and pipes
 * its answer back. A refused connection answers 502 with `unreachableBody`. With `onAnswer`, a 200 answer is
 * read whole and shown to it before it is passed on.
 */
export function forwardRequest(
  upstreamPort: number,
  request: IncomingMessage,
  response: ServerResponse,
  body: Buffer,
  unreachableBody: (error: Error) => unknown,
  onAnswer?: (answer: Buffer) => void,
): void {
  const upstreamRequest = httpRequest(
    {
      host: '127.0.0.1',
      port: upstreamPort,
      method: request.method,
      path: request.url,
      headers: request.headers,
    },
    (upstreamResponse) => {
      response.writeHead(upstreamResponse.statusCode ?? 502, upstreamResponse.headers);
      if (!onAnswer || upstreamResponse.statusCode !== 200) {
        upstreamResponse.pipe(response);
        return;
      }
      void readRawBody(upstreamResponse).then((answer) => {
        onAnswer(answer);
        response.end(answer);
      });
    },
  );
  upstreamRequest.on('error', (error) => {
    if (response.headersSent) {
      response.destroy(error);
      return;
    }
    response.writeHead(502, { 'content-type': 'application/x-amz-json-1.0' });
    response.end(JSON.stringify(unreachableBody(error)));
  });
  upstreamRequest.end(body);
}

export interface InterceptingProxy {
  endpoint: string;
  /** Sets (or replaces) the hook; until then every call passes through. */
  interceptWith(hook: AwsCallHook): void;
  stop(): Promise<void>;
}

/** A loopback proxy in front of one emulator (DynamoDB Local) through which the functions reach it. */
export async function startInterceptingProxy(
  upstreamEndpoint: string,
  unreachableBody: (error: Error) => unknown,
): Promise<InterceptingProxy> {
  const upstreamPort = Number(new URL(upstreamEndpoint).port || 80);
  let hook: AwsCallHook | undefined;
  const server = createServer((request, response) => {
    void answerOrBody(request, hook).then(({ answer, body }) => {
      if (answer) sendAnswer(response, answer);
      else forwardRequest(upstreamPort, request, response, body, unreachableBody);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    interceptWith: (next) => {
      hook = next;
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
