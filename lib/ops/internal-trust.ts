import { Fn } from 'aws-cdk-lib';
import type * as iam from 'aws-cdk-lib/aws-iam';
import { breakGlassOf } from '../platform/break-glass.js';
import { type DataKey, WRITE_KEY_ACTIONS } from '../platform/data-key.js';
import type { QueueWithDlq } from '../platform/queue-with-dlq.js';
import type { ServiceFunction } from '../platform/service-function.js';
import type { Saga } from '../saga/saga.js';
import { sagaMachines } from '../services/reconcile-access.js';

export interface InternalTrustProps {
  /** The order events channel, its producers (the relay and the republisher) and its consumer. */
  readonly orderEvents: {
    readonly queue: QueueWithDlq;
    readonly producers: readonly ServiceFunction[];
    readonly consumer: ServiceFunction;
  };
  /** The shipping requests channel: the saga sends (CreateShipment), the worker answers. */
  readonly shippingRequests: { readonly queue: QueueWithDlq; readonly worker: ServiceFunction };
  readonly saga: Saga;
  /** The key of the saga's machines. */
  readonly sagaKey: DataKey;
  /** Every function that calls Step Functions on the saga's machines or executions. */
  readonly sagaCallers: readonly ServiceFunction[];
}

/**
 * Who each internal channel and the saga's key trust, decided in one place once every producer and consumer
 * exists: the queues' policies, the consumer's list of trusted senders, and who may use the saga's key.
 */
export function bindInternalTrust(props: InternalTrustProps): void {
  const { orderEvents, shippingRequests, saga } = props;
  orderEvents.queue.trustOnly({
    senders: orderEvents.producers.map((fn) => fn.executionRole),
    consumers: [orderEvents.consumer.executionRole],
  });
  // The consumer checks the sender as well: the queue policy is only as strict as the account lets it stay.
  // A redrive by the stack's break-glass role may name it as the sender, so it is trusted too.
  const breakGlassRole = breakGlassOf(saga)?.role;
  const trustedSenders = [
    ...orderEvents.producers.map((fn) => fn.executionRole),
    ...(breakGlassRole ? [breakGlassRole] : []),
  ];
  orderEvents.consumer.addEnvironment(
    'TRUSTED_SENDER_ROLE_IDS',
    Fn.join(
      ',',
      trustedSenders.map((role) => role.roleId),
    ),
  );

  shippingRequests.queue.trustOnly({
    senders: [saga.stateMachine.role],
    consumers: [shippingRequests.worker.executionRole],
  });

  // Starting, describing, redriving, reading a history and answering a task token all read or write the
  // executions' encrypted state through Step Functions.
  const machineRoles: iam.IRole[] = sagaMachines(saga).map((machine) => machine.role);
  for (const role of [...machineRoles, ...props.sagaCallers.map((fn) => fn.executionRole)])
    props.sagaKey.allowVia(role, 'states', WRITE_KEY_ACTIONS);
}
