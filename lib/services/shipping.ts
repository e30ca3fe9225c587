import { Duration } from 'aws-cdk-lib';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import { Construct } from 'constructs';
import { parseServedCountries } from '../../lambdas/shipping/shipping.js';
import { breakGlassOf } from '../platform/break-glass.js';
import { DataKey } from '../platform/data-key.js';
import { QueueWithDlq } from '../platform/queue-with-dlq.js';
import type { ServiceFunction } from '../platform/service-function.js';
import { ServiceTable } from '../platform/service-table.js';
import { sagaStepFunction } from './saga-step-function.js';

/** Markets served when the deployer names none: North America, the larger EU markets, the UK, Australia, Japan. */
export const DEFAULT_SERVED_COUNTRIES: readonly string[] = [
  'US',
  'CA',
  'GB',
  'IE',
  'DE',
  'FR',
  'NL',
  'BE',
  'LU',
  'AT',
  'ES',
  'PT',
  'IT',
  'SE',
  'DK',
  'FI',
  'PL',
  'AU',
  'NZ',
  'JP',
];

/** Short, so a failed attempt is redelivered (after six times this) well inside CreateShipment's heartbeat. */
export const WORKER_TIMEOUT = Duration.seconds(5);

export interface ShippingServiceProps {
  /** How long barrier rows live. */
  readonly barrierTtl: Duration;
  /**
   * ISO 3166 alpha-2 codes of the countries shipped to; others raise ShippingRejected.
   * @default DEFAULT_SERVED_COUNTRIES
   */
  readonly servedCountries?: readonly string[];
}

/**
 * Shipments per order. CreateShipment reaches it through the `shipping-requests` queue: the worker creates
 * the shipment once (barrier) and answers the waiting saga with its task token.
 */
export class ShippingService extends Construct {
  readonly table: ServiceTable;
  /** The key of shipments and of the requests queue. */
  readonly key: DataKey;
  readonly requests: QueueWithDlq;
  readonly worker: ServiceFunction;
  readonly cancel: ServiceFunction;

  constructor(scope: Construct, id: string, props: ShippingServiceProps) {
    super(scope, id);
    // The worker parses the same list at cold start: a bad one fails synth instead.
    const servedCountries = [
      ...parseServedCountries((props.servedCountries ?? DEFAULT_SERVED_COUNTRIES).join(',')),
    ];
    // Shipments and their requests hold addresses; a request also carries the saga's task token.
    this.key = new DataKey(this, 'Key', {
      description: 'order-saga shipping: shipments and shipping requests (addresses, task tokens)',
      services: ['dynamodb', 'sqs'],
      breakGlassRoleArn: breakGlassOf(this)?.roleArn,
    });
    this.table = new ServiceTable(this, 'Table', { encryptionKey: this.key });
    const common = { table: this.table, barrierTtl: props.barrierTtl };
    this.requests = new QueueWithDlq(this, 'Requests', {
      name: 'shipping-requests',
      consumerTimeout: WORKER_TIMEOUT,
      encryptionKey: this.key,
    });
    this.worker = sagaStepFunction(this, 'ShippingWorker', {
      ...common,
      entry: 'shipping/worker-handler.ts',
      barrierOp: 'action',
      businessActions: ['dynamodb:PutItem'],
      timeout: WORKER_TIMEOUT,
      environment: { SERVED_COUNTRIES: servedCountries.join(',') },
    });
    this.worker.addEventSource(
      new SqsEventSource(this.requests.queue, { batchSize: 5, reportBatchItemFailures: true }),
    );
    this.cancel = sagaStepFunction(this, 'CancelShipment', {
      ...common,
      entry: 'shipping/cancel-handler.ts',
      barrierOp: 'compensation',
      businessActions: ['dynamodb:UpdateItem'],
    });
  }
}
