import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, expect, vi } from 'vitest';
import 'aws-sdk-client-mock-vitest/extend';
import { allCustomMatcher } from 'aws-sdk-client-mock-vitest';
import { TEST_ORDER_ID_KEY } from './order-id-key.js';

expect.extend(allCustomMatcher);

// Handlers read their configuration at module load, as on a cold start.
process.env.TABLE_NAME = 'service-table';
process.env.BARRIER_TTL_SECONDS = String(60 * 24 * 3600);
process.env.SERVED_COUNTRIES = 'US,GB,DE';
process.env.POWERTOOLS_LOG_LEVEL = 'ERROR';
// Powertools writes through the global console in dev mode, where tests can watch its lines and metrics.
process.env.POWERTOOLS_DEV = 'true';
process.env.POWERTOOLS_METRICS_DISABLED = 'false';

afterEach(() => {
  vi.useRealTimers();
});
process.env.STATE_MACHINE_ARN = 'arn:aws:states:us-east-1:111111111111:stateMachine:OrderSaga:live';
process.env.CUSTOMER_CLAIM = 'sub';
process.env.ORDER_EVENTS_QUEUE_URL =
  'https://sqs.us-east-1.amazonaws.com/111111111111/OrderSaga-order-events';
process.env.STUCK_AFTER_SECONDS = '300';
process.env.SWEEP_BATCH_LIMIT = '100';
process.env.UNWIND_STATE_MACHINE_ARN =
  'arn:aws:states:us-east-1:111111111111:stateMachine:OrderSagaUnwind:live';
process.env.COMPLETION_STATE_MACHINE_ARN =
  'arn:aws:states:us-east-1:111111111111:stateMachine:OrderSagaCompletion:live';
process.env.SAGA_TIMEOUT_SECONDS = '3600';
process.env.AUTO_REDRIVE_BUDGET = '2';
process.env.REPUBLISH_AFTER_SECONDS = '180';
process.env.REPUBLISH_BATCH_LIMIT = '500';
process.env.MAX_ORDERS_IN_FLIGHT = '3';
process.env.ORDER_ID_KEY_SECRET_ARN =
  'arn:aws:secretsmanager:us-east-1:111111111111:secret:OrderSaga-OrderIdKey-AbCdEf';
// The API reads the order-id key once per cold start; every unit test's environment holds the same one.
mockClient(SecretsManagerClient).on(GetSecretValueCommand).resolves({ SecretString: TEST_ORDER_ID_KEY });
