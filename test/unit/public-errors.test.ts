import type { APIGatewayProxyEvent } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { ApiError, apiHandler } from '../../lambdas/orders-api/http.js';
import {
  outcomeForCustomer,
  PUBLIC_MESSAGES,
  publicError,
  publicFailure,
  publicSteps,
} from '../../lambdas/orders-api/public-errors.js';
import { BUSINESS_ERROR_NAMES } from '../../lambdas/shared/errors.js';

const REQUEST_ID = 'c6af9ac6-7b61-11e6-9a41-93e8deadbeef';

describe('errors as a caller sees them', () => {
  it('keeps a business error’s code and replaces its text with a fixed sentence', () => {
    expect(publicError('InsufficientFunds', REQUEST_ID)).toEqual({
      error: 'InsufficientFunds',
      cause: 'The payment was not accepted',
    });
  });

  it('has a sentence for every business error, none naming an amount, a sku or an id', () => {
    expect(Object.keys(PUBLIC_MESSAGES).sort()).toEqual([...BUSINESS_ERROR_NAMES].sort());
    for (const sentence of Object.values(PUBLIC_MESSAGES)) expect(sentence).not.toMatch(/\d|\$\{/);
  });

  it.each([['States.Timeout'], ['Lambda.AWSLambdaException'], ['AccessDeniedException'], [undefined]])(
    'turns %s into InternalError with the request id',
    (error) => {
      expect(publicError(error, REQUEST_ID)).toEqual({
        error: 'InternalError',
        cause: `An internal error occurred; quote request ${REQUEST_ID} to support`,
      });
    },
  );

  it('shows an order’s failure without its cause text: a balance never reaches the caller', () => {
    const failure = {
      reason: 'business-failure',
      step: 'ChargePayment',
      error: 'InsufficientFunds',
      cause: 'Balance 4999 cents is below the 100000 cents due',
    };
    const shown = publicFailure(failure, REQUEST_ID);
    expect(shown).toEqual({
      reason: 'business-failure',
      step: 'ChargePayment',
      error: 'InsufficientFunds',
      cause: 'The payment was not accepted',
    });
    expect(JSON.stringify(shown)).not.toContain('4999');
    expect(publicFailure(undefined, REQUEST_ID)).toBeNull();
    expect(publicFailure({ reason: 'execution-stopped' }, REQUEST_ID)).toEqual({
      reason: 'execution-stopped',
    });
  });

  it('shows each failed step’s error the same way and leaves the others as they are', () => {
    const steps = [
      { step: 'ReserveInventory', outcome: 'succeeded' },
      {
        step: 'ChargePayment',
        outcome: 'failed',
        error: {
          error: 'AccessDeniedException',
          cause: 'User: arn:aws:sts::123456789012:assumed-role/OrderSaga-ChargeRole/x is not authorized',
        },
      },
    ];
    const shown = publicSteps(steps, REQUEST_ID);
    expect(shown[0]).toBe(steps[0]);
    expect(shown[1]?.error?.error).toBe('InternalError');
    expect(JSON.stringify(shown)).not.toContain('arn:aws');
  });
});

describe('a reconcile outcome as a customer sees it', () => {
  it('keeps what was found and done, drops the operators’ finding, and names no internal error', () => {
    const outcome = {
      orderId: 'ord_1',
      result: 'handed-over',
      action: 'hand-over',
      finding:
        'ord_1 ended FAILED (Lambda.AccessDeniedException) but the order is PENDING; a person must look',
      found: {
        orderStatus: 'PENDING',
        execution: 'ord_1',
        executionStatus: 'FAILED',
        executionError: 'Lambda.AccessDeniedException',
      },
    };
    const shown = outcomeForCustomer(outcome, REQUEST_ID);
    expect(shown).toEqual({
      orderId: 'ord_1',
      result: 'handed-over',
      action: 'hand-over',
      found: {
        orderStatus: 'PENDING',
        execution: 'ord_1',
        executionStatus: 'FAILED',
        executionError: 'InternalError',
      },
    });
    expect(JSON.stringify(shown)).not.toContain('AccessDenied');
  });
});

describe('the API’s unexpected failures', () => {
  const event = (requestId?: string) =>
    ({
      httpMethod: 'GET',
      resource: '/boom',
      path: '/boom',
      headers: {},
      requestContext: requestId ? { requestId } : undefined,
    }) as unknown as APIGatewayProxyEvent;

  it('answer InternalError with the request id and nothing of the error’s text', async () => {
    const handler = apiHandler({
      'GET /boom': async () => {
        throw Object.assign(
          new Error('User: arn:aws:sts::123456789012:assumed-role/OrderSaga-Role/fn is not authorized'),
          { name: 'AccessDeniedException' },
        );
      },
    });
    const response = await handler(event(REQUEST_ID));
    expect(response.statusCode).toBe(500);
    expect(JSON.parse(response.body)).toEqual({
      error: {
        code: 'InternalError',
        message: 'The request could not be completed; it is safe to retry',
        requestId: REQUEST_ID,
      },
    });
  });

  it('name the request on refusals too', async () => {
    const handler = apiHandler({
      'GET /boom': async () => {
        throw new ApiError(404, 'OrderNotFound', 'No order x');
      },
    });
    const response = await handler(event(REQUEST_ID));
    expect(JSON.parse(response.body).error.requestId).toBe(REQUEST_ID);
  });
});
