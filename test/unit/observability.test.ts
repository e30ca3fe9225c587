import type { Context } from 'aws-lambda';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { sagaStepHandler } from '../../lambdas/shared/step-handler.js';

const lambdaContext = {
  functionName: 'ReserveInventoryFn',
  functionVersion: '$LATEST',
  invokedFunctionArn: 'arn:aws:lambda:us-east-1:111111111111:function:ReserveInventoryFn',
  memoryLimitInMB: '256',
  awsRequestId: 'req-1',
} as Context;

const parsedCalls = (spy: { mock: { calls: unknown[][] } }) =>
  spy.mock.calls.map(([line]) => JSON.parse(String(line)) as Record<string, unknown>);

afterEach(() => vi.restoreAllMocks());

describe('the saga step adapter', () => {
  it('labels its lines with the order, trace, step, attempt and request, and counts an unexpected error once', async () => {
    const errors = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    const emitted = vi.spyOn(console, 'log').mockImplementation(() => undefined);
    const handler = sagaStepHandler('ReserveInventory', async () => {
      throw new TypeError('a bug');
    });

    await expect(
      handler(
        { orderId: 'ord-1', traceId: 'trace-1', attempt: 2, items: [{ sku: 'a', quantity: 1 }] },
        lambdaContext,
      ),
    ).rejects.toThrow('a bug');

    expect(parsedCalls(errors)).toContainEqual(
      expect.objectContaining({
        message: 'step failed',
        orderId: 'ord-1',
        traceId: 'trace-1',
        step: 'ReserveInventory',
        attempt: 2,
        function_request_id: 'req-1',
        errorType: 'TypeError',
      }),
    );
    const metrics = parsedCalls(emitted).filter((line) => '_aws' in line);
    expect(metrics).toContainEqual(
      expect.objectContaining({ Function: 'ReserveInventory', UnexpectedError: 1, service: 'order-saga' }),
    );
    expect(metrics).toContainEqual(
      expect.objectContaining({ Step: 'ReserveInventory', Outcome: 'Unexpected', StepOutcome: 1 }),
    );
    expect(
      metrics.flatMap(
        (line) => (line._aws as { CloudWatchMetrics: { Namespace: string }[] }).CloudWatchMetrics,
      ),
    ).toEqual(expect.arrayContaining([expect.objectContaining({ Namespace: 'OrderSaga' })]));
  });

  it('keeps no key of one invocation on the next', async () => {
    const errors = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    vi.spyOn(console, 'log').mockImplementation(() => undefined);
    const handler = sagaStepHandler('ReserveInventory', async () => {
      throw new TypeError('a bug');
    });
    await expect(
      handler({ orderId: 'ord-1', traceId: 'trace-1', attempt: 1 }, lambdaContext),
    ).rejects.toThrow();
    await expect(handler({ orderId: 'ord-2', traceId: 'trace-2' }, lambdaContext)).rejects.toThrow();

    const [, second] = parsedCalls(errors);
    expect(second).toMatchObject({ orderId: 'ord-2', traceId: 'trace-2' });
    expect(second).not.toHaveProperty('attempt');
  });
});
