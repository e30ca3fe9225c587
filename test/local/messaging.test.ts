import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import {
  DeleteMessageCommand,
  GetQueueUrlCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
} from '@aws-sdk/client-sqs';
import { LOCAL_ENDPOINTS_FILE, publishLocalEndpoints } from '@order-saga/local-cloud';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { VALID_ORDER } from './bad-input-cases.js';
import {
  address,
  armFault,
  assertInvariants,
  balanceOf,
  clearFaults,
  eventually,
  listFaults,
  orderIdOf,
  placeOrderDirectly,
  postOrder,
  rowsOf,
  shipmentStatusOf,
  snapshot,
  sqs,
  stockOf,
  waitForOrder,
} from './harness.js';

const run = promisify(execFile);
const queueUrl = async (QueueName: string) => {
  const { QueueUrl } = await sqs.send(new GetQueueUrlCommand({ QueueName }));
  if (!QueueUrl) throw new Error(`no queue ${QueueName}`);
  return QueueUrl;
};

/** Moves what waits in a dead-letter queue back to its source, as a person redriving it would. */
async function moveBack(deadLetters: string, source: string): Promise<void> {
  const { Messages = [] } = await sqs.send(
    new ReceiveMessageCommand({ QueueUrl: await queueUrl(deadLetters), MaxNumberOfMessages: 10 }),
  );
  for (const message of Messages) {
    await sqs.send(
      new SendMessageCommand({ QueueUrl: await queueUrl(source), MessageBody: message.Body ?? '' }),
    );
    await sqs.send(
      new DeleteMessageCommand({
        QueueUrl: await queueUrl(deadLetters),
        ReceiptHandle: message.ReceiptHandle,
      }),
    );
  }
}

const queueDepth = async (name: string) => {
  const queue = (await snapshot()).queues.find((candidate) => candidate.name === name);
  return (queue?.visible ?? 0) + (queue?.inFlight ?? 0);
};

afterEach(async () => {
  await clearFaults();
});

describe('delivery guarantees on the local cloud', () => {
  it('notifies each event of a saga once even when every message is delivered twice', async () => {
    await armFault({ target: 'OrderSaga-order-events', mode: 'duplicate-delivery', count: 100 });
    await armFault({ target: 'OrderSaga-shipping-requests', mode: 'duplicate-delivery', count: 100 });
    const { orderId } = (await postOrder(VALID_ORDER, `k-${randomUUID()}`)).body as { orderId: string };

    expect((await waitForOrder(orderId)).status).toBe('CONFIRMED');
    const notifications = await eventually('both notifications', async () => {
      const rows = await rowsOf('NotificationsTableName', `NOTIFICATION#${orderId}`);
      return rows.length >= 2 ? rows : undefined;
    });
    await eventually('the queues to drain', async () =>
      (await queueDepth('OrderSaga-order-events')) === 0 ? true : undefined,
    );

    expect(notifications.map((row) => row.eventType).sort()).toEqual(['OrderConfirmed', 'OrderPlaced']);
    expect(await rowsOf('NotificationsTableName', `NOTIFICATION#${orderId}`)).toHaveLength(2);
    expect(await rowsOf('NotificationsTableName', `INBOX#${orderId}#OrderPlaced#1`)).toHaveLength(1);
    expect(shipmentStatusOf(await snapshot(), orderId)).toBe('CREATED');
    await assertInvariants({ orderIds: [orderId], customerIds: ['api'], skus: ['API-1', 'API-2'] });
    // Both queues really did deliver twice.
    for (const fault of await listFaults()) expect(fault.remaining, fault.target).toBeLessThan(100);
  });

  it('sends a message that keeps failing to the DLQ, and npm run redrive brings it back to be handled', async () => {
    const orderId = `ord-redrive-${randomUUID()}`;
    await armFault({ target: 'NotificationsConsumer', mode: 'error', count: 5, orderId });
    // The relay sends it (its confirmation), as the consumer takes events from the relay only, and the redrive
    // moves it with its sender.
    await placeOrderDirectly({ orderId, customerId: 'api', items: [{ sku: 'API-1', quantity: 1 }] });

    await eventually(
      'the message in the DLQ',
      async () => ((await queueDepth('OrderSaga-order-events-dlq')) === 1 ? true : undefined),
      45_000,
    );
    expect(await rowsOf('NotificationsTableName', `NOTIFICATION#${orderId}`)).toEqual([]);

    // The test cloud leaves .local-cloud/endpoints.json to npm start: the script is pointed at its own copy.
    const root = await mkdtemp(path.join(tmpdir(), 'test-cloud-'));
    await publishLocalEndpoints(root, {
      api: inject('apiUrl'),
      dynamodb: inject('dynamodbEndpoint'),
      sqs: inject('sqsEndpoint'),
      sfn: inject('sfnEndpoint'),
      region: 'us-east-1',
    });
    const { stdout } = await run('node', [
      '--import',
      'tsx',
      'scripts/redrive.ts',
      'order-events',
      '--local',
      '--endpoints',
      path.join(root, LOCAL_ENDPOINTS_FILE),
    ]).finally(() => rm(root, { recursive: true, force: true }));

    expect(stdout).toContain('moved 1 message(s) from OrderSaga-order-events-dlq to OrderSaga-order-events');
    const notifications = await eventually('the redriven notification', async () => {
      const rows = await rowsOf('NotificationsTableName', `NOTIFICATION#${orderId}`);
      return rows.length > 0 ? rows : undefined;
    });
    expect(notifications).toHaveLength(1);
    expect(await queueDepth('OrderSaga-order-events-dlq')).toBe(0);
  });

  it('compensates an order whose shipping worker never answers, and the late worker changes nothing', async () => {
    const before = await snapshot();
    const key = `k-${randomUUID()}`;
    const orderId = orderIdOf(VALID_ORDER.customerId, key);
    await armFault({ target: 'ShippingWorker', mode: 'error', count: 1000, orderId });
    await postOrder({ ...VALID_ORDER, shippingAddress: address('GB') }, key);

    const cancelled = await waitForOrder(orderId, 30_000);
    expect(cancelled.status).toBe('CANCELLED');
    // The caller sees an internal error; the order's record keeps what happened, for operators.
    expect(cancelled.failure).toMatchObject({ step: 'CreateShipment', error: 'InternalError' });
    const [record] = await rowsOf('OrdersTableName', `ORDER#${orderId}`);
    expect(record?.failure).toMatchObject({ step: 'CreateShipment', error: 'States.HeartbeatTimeout' });

    // The late worker must really run: its next invocation spends this fault (it runs the handler, twice),
    // and the request, wherever the failed receives left it, is brought back to it.
    await clearFaults();
    await armFault({ target: 'ShippingWorker', mode: 'duplicate-delivery', count: 1, orderId });
    await eventually('the late worker to handle the request', async () => {
      await moveBack('OrderSaga-shipping-requests-dlq', 'OrderSaga-shipping-requests');
      const spent = (await listFaults()).length === 0;
      const drained =
        (await queueDepth('OrderSaga-shipping-requests')) === 0 &&
        (await queueDepth('OrderSaga-shipping-requests-dlq')) === 0;
      return spent && drained ? true : undefined;
    });

    const after = await snapshot();
    expect(after.shipments.filter((shipment) => shipment.orderId === orderId)).toEqual([]);
    // CancelShipment's tombstone still stands: the late worker did not get past it.
    expect(await rowsOf('ShippingTableName', `BARRIER#${orderId}`)).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ sk: 'CreateShipment#action', tombstone: true }),
        expect.objectContaining({ sk: 'CreateShipment#compensation' }),
      ]),
    );
    expect(balanceOf(after, 'api')).toBe(balanceOf(before, 'api'));
    for (const { sku } of VALID_ORDER.items) expect(stockOf(after, sku)).toEqual(stockOf(before, sku));
    await assertInvariants({ orderIds: [orderId], customerIds: ['api'], skus: ['API-1', 'API-2'] });
  });
});
