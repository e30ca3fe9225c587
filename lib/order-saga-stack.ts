import { Aspects, CfnOutput, Duration, Stack, type StackProps } from 'aws-cdk-lib';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import type { Construct } from 'constructs';
import { SAGA_END_STATES, SAGA_STEPS } from '../lambdas/shared/saga-states.js';
import { OrdersApi } from './api/orders-api.js';
import { pascalCase } from './api/usage-plans.js';
import { ApiExecutionLogs } from './ops/api-execution-logs.js';
import { bindInternalTrust } from './ops/internal-trust.js';
import { Monitoring } from './ops/monitoring.js';
import { OutboxRepublisher } from './ops/outbox-republisher.js';
import { Sweeper } from './ops/sweeper.js';
import { breakGlassOf } from './platform/break-glass.js';
import { DataKey } from './platform/data-key.js';
import { acknowledgeWildcardResource } from './platform/nag.js';
import { StateMachineGuardrails } from './saga/guardrails.js';
import { liveAliasArnOf } from './saga/live-alias.js';
import { invokeFunction, resultPathOf, Saga, sendToQueueAndWait } from './saga/saga.js';
import { InventoryService } from './services/inventory.js';
import { NotificationsService } from './services/notifications.js';
import { OrdersService } from './services/orders.js';
import { PaymentsService } from './services/payments.js';
import { type ReconcileSettings, sagaMachines } from './services/reconcile-access.js';
import { ShippingService } from './services/shipping.js';
import { bindStage, type StageConfig, stageConfig } from './stages.js';

/** Errors each step raises by name; the saga never retries them. */
export const STEP_BUSINESS_ERRORS = {
  [SAGA_STEPS.reserveInventory.state]: ['InsufficientStock', 'OrderCancelled', 'InvalidStepInput'],
  [SAGA_STEPS.chargePayment.state]: [
    'InsufficientFunds',
    'PaymentDeclined',
    'OrderCancelled',
    'InvalidStepInput',
  ],
  [SAGA_STEPS.createShipment.state]: ['ShippingRejected', 'OrderCancelled', 'InvalidStepInput'],
  [SAGA_STEPS.confirmOrder.state]: ['OrderStateConflict', 'InvalidStepInput'],
} as const;

/** Redrive (restarting a failed execution from where it failed) is possible for 14 days. */
const REDRIVE_WINDOW = Duration.days(14);
/** How long a person may take to act on an order handed to them before its barrier rows may expire. */
const OPERATOR_REACTION = Duration.days(30);

export interface OrderSagaStackProps extends StackProps {
  /**
   * The deployment this stack is: retention, removal policies, throttling, alarm email and the defaults below.
   * @default stageConfig() (dev)
   */
  readonly stage?: StageConfig;
  /**
   * The longest a saga may run, retries included.
   * @default the stage's sagaTimeout
   */
  readonly sagaTimeout?: Duration;
  /**
   * Countries shipped to (ISO 3166 alpha-2).
   * @default DEFAULT_SERVED_COUNTRIES
   */
  readonly servedCountries?: readonly string[];
  /**
   * Automatic redrives of a TIMED_OUT execution per order before it is handed to a person.
   * @default the stage's redriveBudget
   */
  readonly redriveBudget?: number;
  /**
   * How long an order may stay PENDING after its last change before the sweeper reconciles it.
   * @default Duration.minutes(5)
   */
  readonly stuckAfter?: Duration;
}

/** The whole order saga in one stack: four services, their tables, and the state machine tying them together. */
export class OrderSagaStack extends Stack {
  readonly saga: Saga;
  readonly api: OrdersApi;
  readonly stage: StageConfig;

  constructor(scope: Construct, id: string, props: OrderSagaStackProps = {}) {
    super(scope, id, props);
    this.stage = props.stage ?? stageConfig();
    bindStage(this, this.stage);
    Aspects.of(this).add(new StateMachineGuardrails());

    const sagaTimeout = props.sagaTimeout ?? this.stage.sagaTimeout;
    const redriveBudget = props.redriveBudget ?? this.stage.redriveBudget;
    // A barrier row must outlive everything that may still run a step of its order: the saga and its automatic
    // redrives, the redrive window, and a person's reaction. Twice that is margin; reconcile refuses to run a
    // step for an older order, so the TTL bounds correctness, not just storage.
    const barrierTtl = Duration.seconds(
      2 *
        (sagaTimeout.toSeconds() * (redriveBudget + 1) +
          REDRIVE_WINDOW.toSeconds() +
          OPERATOR_REACTION.toSeconds()),
    );

    const notifications = new NotificationsService(this, 'Notifications');
    const orders = new OrdersService(this, 'Orders', {
      barrierTtl,
      orderEventsQueue: notifications.orderEvents.queue,
    });
    const inventory = new InventoryService(this, 'Inventory', { barrierTtl });
    const payments = new PaymentsService(this, 'Payments', { barrierTtl });
    const shipping = new ShippingService(this, 'Shipping', {
      barrierTtl,
      servedCountries: props.servedCountries,
    });

    const identity = {
      orderId: sfn.JsonPath.stringAt('$.orderId'),
      traceId: sfn.JsonPath.stringAt('$.traceId'),
    };
    const identityOnly = sfn.TaskInput.fromObject(identity);
    // Status changes keep one barrier row per execution: an order may reach a status again in a later one.
    // The results travel with them so the order records its total (every execution input carries `results`).
    const orderChange = {
      ...identity,
      executionName: sfn.JsonPath.executionName,
      results: sfn.JsonPath.objectAt('$.results'),
    };
    const withFailures = sfn.TaskInput.fromObject({
      ...orderChange,
      failures: sfn.JsonPath.objectAt('$.failures'),
    });
    const stepTimeout = Duration.seconds(20);

    const invokedBySaga: lambda.Function[] = [];
    const invoke = (fn: lambda.Function) => {
      invokedBySaga.push(fn);
      return invokeFunction(fn);
    };

    // Every execution's input holds the customer and the shipping address.
    const sagaKey = new DataKey(this, 'SagaKey', {
      description: 'order-saga executions: definitions and histories of the saga, unwind and completion',
      services: ['states'],
      breakGlassRoleArn: breakGlassOf(this)?.roleArn,
    });
    this.saga = new Saga(this, 'OrderSaga', {
      timeout: sagaTimeout,
      encryptionKey: sagaKey,
      steps: [
        {
          name: SAGA_STEPS.reserveInventory.state,
          task: invoke(inventory.reserve),
          payload: sfn.TaskInput.fromObject({ ...identity, items: sfn.JsonPath.listAt('$.items') }),
          timeout: stepTimeout,
          businessErrors: STEP_BUSINESS_ERRORS.ReserveInventory,
          compensation: {
            name: SAGA_STEPS.reserveInventory.compensationState,
            task: invoke(inventory.release),
            payload: identityOnly,
            timeout: stepTimeout,
          },
        },
        {
          name: SAGA_STEPS.chargePayment.state,
          task: invoke(payments.charge),
          payload: sfn.TaskInput.fromObject({
            ...identity,
            customerId: sfn.JsonPath.stringAt('$.customerId'),
            amountCents: sfn.JsonPath.numberAt(
              `${resultPathOf(SAGA_STEPS.reserveInventory.state)}.totalCents`,
            ),
          }),
          timeout: stepTimeout,
          businessErrors: STEP_BUSINESS_ERRORS.ChargePayment,
          compensation: {
            name: SAGA_STEPS.chargePayment.compensationState,
            task: invoke(payments.refund),
            payload: identityOnly,
            timeout: stepTimeout,
          },
        },
        {
          name: SAGA_STEPS.createShipment.state,
          task: sendToQueueAndWait(shipping.requests.queue, { traceId: '$.traceId' }),
          payload: sfn.TaskInput.fromObject({
            ...identity,
            items: sfn.JsonPath.listAt('$.items'),
            shippingAddress: sfn.JsonPath.objectAt('$.shippingAddress'),
          }),
          // The worker heartbeats on pickup. The heartbeat bounds the wait for a pickup and leaves room for
          // three redeliveries (the queue's visibility is 30 s); the timeout bounds the whole exchange.
          timeout: Duration.minutes(5),
          heartbeat: Duration.seconds(90),
          pivot: true,
          // The worker leaves a contended request to its queue's redelivery; it never reports WriteConflict.
          reportsContention: false,
          businessErrors: STEP_BUSINESS_ERRORS.CreateShipment,
          compensation: {
            name: SAGA_STEPS.createShipment.compensationState,
            task: invoke(shipping.cancel),
            payload: identityOnly,
            timeout: stepTimeout,
          },
        },
        {
          name: SAGA_STEPS.confirmOrder.state,
          task: invoke(orders.confirm),
          payload: sfn.TaskInput.fromObject({
            ...orderChange,
            shipmentId: sfn.JsonPath.stringAt(`${resultPathOf(SAGA_STEPS.createShipment.state)}.shipmentId`),
          }),
          timeout: stepTimeout,
          businessErrors: STEP_BUSINESS_ERRORS.ConfirmOrder,
        },
      ],
      succeededStateName: SAGA_END_STATES.confirmed,
      finalCompensation: {
        name: SAGA_STEPS.cancelOrder.state,
        task: invoke(orders.cancel),
        payload: withFailures,
        timeout: stepTimeout,
      },
      cancelledStateName: SAGA_END_STATES.cancelled,
      escalation: {
        name: SAGA_STEPS.markCompensationFailed.state,
        task: invoke(orders.markCompensationFailed),
        payload: withFailures,
        timeout: stepTimeout,
      },
      escalatedStateName: SAGA_END_STATES.compensationFailed,
      afterPivotEscalation: {
        name: SAGA_STEPS.markNeedsAttention.state,
        task: invoke(orders.markNeedsAttention),
        payload: withFailures,
        timeout: stepTimeout,
      },
      afterPivotEscalatedStateName: SAGA_END_STATES.needsAttention,
    });

    for (const fn of invokedBySaga) {
      acknowledgeWildcardResource(
        this.saga,
        `${fn.functionArn}:*`,
        'LambdaInvoke grants the function and its own versions and aliases (Arn:*); no other function is reachable.',
      );
    }
    this.saga.stateMachine.grantTaskResponse(shipping.worker);

    const reconcile: ReconcileSettings = {
      saga: this.saga,
      barrierTtl,
      redriveBudget,
      stuckAfter: props.stuckAfter ?? Duration.minutes(5),
    };
    this.api = new OrdersApi(this, 'Api', {
      ordersTable: orders.table,
      reconcile,
      throttlingRateLimit: this.stage.apiThrottling.rateLimit,
      throttlingBurstLimit: this.stage.apiThrottling.burstLimit,
    });
    const sweeper = new Sweeper(this, 'Sweeper', { ordersTable: orders.table, reconcile });
    const republisher = new OutboxRepublisher(this, 'OutboxRepublisher', {
      ordersTable: orders.table,
      orderEventsQueue: notifications.orderEvents.queue,
    });
    bindInternalTrust({
      orderEvents: {
        queue: notifications.orderEvents,
        producers: [orders.relay, republisher.function],
        consumer: notifications.consumer,
      },
      shippingRequests: { queue: shipping.requests, worker: shipping.worker },
      saga: this.saga,
      sagaKey,
      sagaCallers: [this.api.ordersFunction, this.api.reconcileFunction, sweeper.function, shipping.worker],
    });
    new ApiExecutionLogs(this, 'ApiExecutionLogs', { restApi: this.api.restApi });

    // Last: it watches every DLQ and function the stack has by now.
    const contextEmail: unknown = this.node.tryGetContext('alarmEmail');
    new Monitoring(this, 'Monitoring', {
      alarmEmail:
        typeof contextEmail === 'string' && contextEmail !== '' ? contextEmail : this.stage.alarmEmail,
      stateMachines: sagaMachines(this.saga),
      relay: orders.relay,
      restApi: this.api.restApi,
      // The README's guarantee: final or with a person within (budget + 1) timeouts and two sweeps.
      pendingOrderDeadline: Duration.seconds(
        sagaTimeout.toSeconds() * (redriveBudget + 1) + 2 * sweeper.every.toSeconds(),
      ),
    });

    new CfnOutput(this, 'ApiUrl', { value: this.api.restApi.url });
    new CfnOutput(this, 'StateMachineArn', { value: this.saga.stateMachine.stateMachineArn });
    new CfnOutput(this, 'UnwindStateMachineArn', { value: this.saga.unwindStateMachine.stateMachineArn });
    if (this.saga.completionStateMachine)
      new CfnOutput(this, 'CompletionStateMachineArn', {
        value: this.saga.completionStateMachine.stateMachineArn,
      });
    // Where new executions start; `aws stepfunctions update-state-machine-alias` on these rolls a release back.
    for (const [output, machine] of [
      ['StateMachineAliasArn', this.saga.stateMachine],
      ['UnwindStateMachineAliasArn', this.saga.unwindStateMachine],
      ['CompletionStateMachineAliasArn', this.saga.completionStateMachine],
    ] as const)
      if (machine) new CfnOutput(this, output, { value: liveAliasArnOf(machine) });
    new CfnOutput(this, 'ClientPolicyArn', {
      description: 'Attach to client services: place orders and read them',
      exportName: `${this.stackName}-ClientPolicyArn`,
      value: this.api.clientPolicy.managedPolicyArn,
    });
    new CfnOutput(this, 'OperatorPolicyArn', {
      description: 'Attach to operators: also reconcile (align, redrive, cancel, complete)',
      exportName: `${this.stackName}-OperatorPolicyArn`,
      value: this.api.operatorPolicy.managedPolicyArn,
    });
    for (const { service, key } of this.api.serviceKeys)
      new CfnOutput(this, `ApiKeyId${pascalCase(service.name)}`, {
        description: `${service.name}'s API key id: aws apigateway get-api-key --include-value --api-key <id>`,
        value: key.keyId,
      });
    new CfnOutput(this, 'OrderIdKeySecretArn', {
      description: 'The secret order ids are derived with: its ARN, never its value',
      value: this.api.orderIdKey.secret.secretArn,
    });
    new CfnOutput(this, 'OrdersTableName', { value: orders.table.tableName });
    new CfnOutput(this, 'InventoryTableName', { value: inventory.table.tableName });
    new CfnOutput(this, 'PaymentsTableName', { value: payments.table.tableName });
    new CfnOutput(this, 'ShippingTableName', { value: shipping.table.tableName });
    new CfnOutput(this, 'NotificationsTableName', { value: notifications.table.tableName });
    new CfnOutput(this, 'OrderEventsQueueUrl', { value: notifications.orderEvents.queue.queueUrl });
    new CfnOutput(this, 'ShippingRequestsQueueUrl', { value: shipping.requests.queue.queueUrl });
  }
}
