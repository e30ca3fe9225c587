import { afterAll, describe, expect, it, vi } from 'vitest';
import {
  createLambdaRunner,
  type LambdaFunctionConfig,
  lambdaFunctionsFromTemplate,
  scaleDurationVariables,
} from '../src/lambda-runner.js';
import { type CfnTemplate, createResolveContext, physicalNames } from '../src/template.js';

const bundleDir = new URL('./fixtures/lambda-basic', import.meta.url).pathname;

function fixture(functionName: string, overrides: Partial<LambdaFunctionConfig> = {}): LambdaFunctionConfig {
  return {
    functionName,
    functionArn: `arn:aws:lambda:us-east-1:000000000000:function:${functionName}`,
    bundleDir,
    handler: 'index.handler',
    environment: { GREETING: `hello from ${functionName}` },
    timeoutSeconds: 2,
    memoryMb: 128,
    ...overrides,
  };
}

const logs: string[] = [];
const runner = createLambdaRunner({
  // 2 s timeouts become 500 ms.
  timeScale: 0.25,
  maxWorkersPerFunction: 2,
  baseEnvironment: { AWS_REGION: 'us-east-1' },
  onLog: (functionName, _stream, line) => logs.push(`${functionName}: ${line}`),
});
runner.register(fixture('a'));
runner.register(fixture('b'));
runner.register(fixture('cb', { handler: 'index.callbackHandler' }));
runner.register(fixture('missing', { handler: 'nothere.handler' }));
runner.register(fixture('single', { timeoutSeconds: 4 }));

afterAll(async () => {
  await runner.stop();
});

describe('lambda runner', () => {
  it('keeps a warm sandbox with its own module state and environment per function', async () => {
    const coldA = await runner.invoke('a', { n: 1 });
    const warmA = await runner.invoke('a', { n: 2 });
    const coldB = await runner.invoke('arn:aws:lambda:us-east-1:000000000000:function:b', { n: 3 });
    expect(coldA).toMatchObject({
      ok: true,
      payload: { greeting: 'hello from a', region: 'us-east-1', invocations: 1 },
    });
    expect(coldA.initDurationMs).toBeTypeOf('number');
    expect(warmA).toMatchObject({ ok: true, payload: { invocations: 2 } });
    expect(warmA.initDurationMs).toBeUndefined();
    expect(coldB).toMatchObject({ ok: true, payload: { greeting: 'hello from b', invocations: 1 } });
    // A handler changing process.env affects its own sandbox only.
    await runner.invoke('a', { action: 'setEnv', value: 'changed' });
    expect(await runner.invoke('b', {})).toMatchObject({ payload: { envNow: 'hello from b' } });
    expect(await runner.invoke('a', {})).toMatchObject({ payload: { envNow: 'changed' } });
    expect(process.env.GREETING).toBeUndefined();
  });

  it('measures cold and warm latency', async () => {
    const coldStarted = performance.now();
    await runner.invoke('single', {});
    const cold = performance.now() - coldStarted;
    const warm: number[] = [];
    for (let i = 0; i < 50; i += 1) {
      const started = performance.now();
      await runner.invoke('single', { i });
      warm.push(performance.now() - started);
    }
    warm.sort((x, y) => x - y);
    console.log(
      `cold invoke ${cold.toFixed(1)} ms; warm p50 ${warm[25]?.toFixed(2)} ms, p95 ${warm[47]?.toFixed(2)} ms`,
    );
    expect(warm[25]).toBeLessThan(50);
  });

  it('returns handler errors Lambda-shaped with the error name as errorType', async () => {
    const result = await runner.invoke('a', { action: 'fail', sku: 'SKU-1' });
    expect(result).toMatchObject({
      ok: false,
      error: { errorType: 'InsufficientStock', errorMessage: 'not enough SKU-1' },
    });
    // Source maps are on, so the trace points at the bundle's own file.
    expect(!result.ok && result.error.trace[1]).toContain('lambda-basic/index.mjs');
  });

  it('times out with Sandbox.Timedout even for a busy loop, then starts a fresh sandbox', async () => {
    const timedOut = await runner.invoke('a', { action: 'spin', ms: 5000 });
    expect(timedOut).toMatchObject({ ok: false, error: { errorType: 'Sandbox.Timedout' } });
    expect(timedOut.durationMs).toBeGreaterThanOrEqual(495);
    expect(timedOut.durationMs).toBeLessThan(1500);
    const next = await runner.invoke('a', {});
    expect(next).toMatchObject({ ok: true, payload: { invocations: 1 } });
  });

  it('reports a crashed runtime and a missing handler', async () => {
    expect(await runner.invoke('b', { action: 'exit' })).toMatchObject({
      ok: false,
      error: { errorType: 'Runtime.ExitError' },
    });
    expect(await runner.invoke('missing', {})).toMatchObject({
      ok: false,
      error: { errorType: 'Runtime.ImportModuleError' },
    });
  });

  it('supports callback handlers and queues beyond the pool size', async () => {
    expect(await runner.invoke('cb', { x: 1 })).toMatchObject({
      ok: true,
      payload: { viaCallback: { x: 1 } },
    });
    const started = performance.now();
    const results = await Promise.all(
      [1, 2, 3, 4].map(() => runner.invoke('b', { action: 'sleep', ms: 150 })),
    );
    const elapsed = performance.now() - started;
    expect(results.every((result) => result.ok)).toBe(true);
    // Two sandboxes, four invocations of 150 ms: two rounds.
    expect(elapsed).toBeGreaterThanOrEqual(295);
  });

  it('forwards handler output and resolves *.localhost to loopback inside sandboxes', async () => {
    runner.register(fixture('noisy'));
    await runner.invoke('noisy', {});
    await vi.waitFor(() => expect(logs).toContain('noisy: invoked default'));
    expect(
      await runner.invoke('noisy', { action: 'fetchLocalhostSubdomain', host: 'x.y.localhost' }),
    ).toMatchObject({ ok: true, payload: { address: '127.0.0.1' } });
  });
});

describe('duration variables under the time scale', () => {
  it('scales numeric *_SECONDS values to whole seconds, at least 1, and leaves everything else alone', () => {
    expect(
      scaleDurationVariables(
        {
          STUCK_AFTER_SECONDS: '300',
          BARRIER_TTL_SECONDS: '86400',
          SHORT_SECONDS: '4',
          FRACTION_SECONDS: '25.5',
          ZERO_SECONDS: '0',
          PADDED_SECONDS: ' 60 ',
          NEGATIVE_SECONDS: '-5',
          WORD_SECONDS: 'soon',
          EMPTY_SECONDS: '',
          TABLE_NAME: '300',
          TIMEOUT_SECONDS_HINT: '300',
        },
        0.1,
      ),
    ).toEqual({
      STUCK_AFTER_SECONDS: '30',
      BARRIER_TTL_SECONDS: '8640',
      SHORT_SECONDS: '1',
      FRACTION_SECONDS: '3',
      ZERO_SECONDS: '0',
      PADDED_SECONDS: '6',
      NEGATIVE_SECONDS: '-5',
      WORD_SECONDS: 'soon',
      EMPTY_SECONDS: '',
      TABLE_NAME: '300',
      TIMEOUT_SECONDS_HINT: '300',
    });
    expect(scaleDurationVariables({ SAGA_TIMEOUT_SECONDS: '90' }, 1)).toEqual({ SAGA_TIMEOUT_SECONDS: '90' });
  });

  it('applies to the environment built from the template, not to the function timeout', () => {
    const template: CfnTemplate = {
      Resources: {
        Fn: {
          Type: 'AWS::Lambda::Function',
          Metadata: { 'aws:asset:path': 'lambda-basic' },
          Properties: {
            Handler: 'index.handler',
            Timeout: 30,
            Environment: { Variables: { REPUBLISH_AFTER_SECONDS: '120', QUEUE_NAME: 'q' } },
          },
        },
      },
    };
    const ctx = createResolveContext(physicalNames(template, { stackName: 'S' }), {
      stackName: 'S',
      template,
    });
    const [config] = lambdaFunctionsFromTemplate(template, ctx, {
      cdkOutDir: new URL('./fixtures', import.meta.url).pathname,
      timeScale: 0.25,
    });
    expect(config?.environment).toEqual({ REPUBLISH_AFTER_SECONDS: '30', QUEUE_NAME: 'q' });
    expect(config?.timeoutSeconds).toBe(30);
  });
});

describe('the logging configuration', () => {
  const functionWith = (loggingConfig: Record<string, unknown> | undefined) => {
    const template: CfnTemplate = {
      Resources: {
        Fn: {
          Type: 'AWS::Lambda::Function',
          Metadata: { 'aws:asset:path': 'lambda-basic' },
          Properties: {
            Handler: 'index.handler',
            Environment: { Variables: { QUEUE_NAME: 'q' } },
            ...(loggingConfig && { LoggingConfig: loggingConfig }),
          },
        },
      },
    };
    const ctx = createResolveContext(physicalNames(template, { stackName: 'S' }), {
      stackName: 'S',
      template,
    });
    const [config] = lambdaFunctionsFromTemplate(template, ctx, {
      cdkOutDir: new URL('./fixtures', import.meta.url).pathname,
    });
    return config?.environment;
  };

  it('reaches the sandbox as Lambda passes it: the application log level and the log format', () => {
    expect(
      functionWith({ LogFormat: 'JSON', ApplicationLogLevel: 'WARN', SystemLogLevel: 'INFO', LogGroup: 'g' }),
    ).toEqual({ QUEUE_NAME: 'q', AWS_LAMBDA_LOG_FORMAT: 'JSON', AWS_LAMBDA_LOG_LEVEL: 'WARN' });
  });

  it('adds nothing when the template sets none', () => {
    expect(functionWith(undefined)).toEqual({ QUEUE_NAME: 'q' });
  });
});
