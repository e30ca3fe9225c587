import { Stack, Validations } from 'aws-cdk-lib';
import * as apigw from 'aws-cdk-lib/aws-apigateway';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as wafv2 from 'aws-cdk-lib/aws-wafv2';
import { Construct } from 'constructs';
import { CUSTOMER_PATH_PREFIX } from '../../lambdas/orders-api/caller.js';
import { createOrderRequestSchema, IDEMPOTENCY_KEY_HEADER } from '../../lambdas/orders-api/schemas.js';
import { grantExecutionAccess } from '../platform/executions.js';
import { acknowledgeWildcardResource } from '../platform/nag.js';
import { lambdaEntry } from '../platform/paths.js';
import { ServiceFunction } from '../platform/service-function.js';
import type { ServiceTable } from '../platform/service-table.js';
import { liveAliasArnOf } from '../saga/live-alias.js';
import { bindReconcile, type ReconcileSettings, sagaMachines } from '../services/reconcile-access.js';
import { stageOf } from '../stages.js';
import { CustomerAuth } from './customer-auth.js';
import { OrderIdKey } from './order-id-key.js';
import { apiResourcePolicy } from './resource-policy.js';
import { ServiceUsagePlans } from './usage-plans.js';
import { ApiWebAcl } from './web-acl.js';

export interface OrdersApiProps {
  /** The orders service's table: the API writes new orders and reads them back. */
  readonly ordersTable: ServiceTable;
  /** The saga each new order starts, and the rules reconcile applies. */
  readonly reconcile: ReconcileSettings;
  /**
   * Steady-state requests per second the stage accepts before answering 429.
   * @default 50
   */
  readonly throttlingRateLimit?: number;
  /**
   * Burst of requests the stage absorbs above the steady rate.
   * @default 100
   */
  readonly throttlingBurstLimit?: number;
}

/** API Gateway's own errors, answered in the API's error shape `{ "error": { code, message } }`. */
/** `status` absent: the answer keeps the status API Gateway chose (401, 403, 404, ...). */
const GATEWAY_ERRORS: {
  type: apigw.ResponseType;
  status?: string;
  code: string;
  withValidation?: boolean;
  /** Seconds a throttled caller waits: API Gateway sends no Retry-After of its own. */
  retryAfter?: number;
}[] = [
  {
    type: apigw.ResponseType.BAD_REQUEST_BODY,
    status: '400',
    code: 'ValidationFailed',
    withValidation: true,
  },
  {
    type: apigw.ResponseType.BAD_REQUEST_PARAMETERS,
    status: '400',
    code: 'MissingParameter',
    withValidation: true,
  },
  { type: apigw.ResponseType.REQUEST_TOO_LARGE, status: '413', code: 'PayloadTooLarge' },
  { type: apigw.ResponseType.UNSUPPORTED_MEDIA_TYPE, status: '415', code: 'UnsupportedMediaType' },
  { type: apigw.ResponseType.THROTTLED, status: '429', code: 'TooManyRequests', retryAfter: 1 },
  { type: apigw.ResponseType.QUOTA_EXCEEDED, status: '429', code: 'TooManyRequests' },
  {
    type: apigw.ResponseType.MISSING_AUTHENTICATION_TOKEN,
    status: '403',
    code: 'MissingAuthenticationToken',
  },
  { type: apigw.ResponseType.ACCESS_DENIED, status: '403', code: 'AccessDenied' },
  // A service route of a stage that names its services, called without one of their keys.
  { type: apigw.ResponseType.INVALID_API_KEY, status: '403', code: 'InvalidApiKey' },
  // Signature, token and authorization failures keep their own 401 or 403 instead of turning into a 400.
  { type: apigw.ResponseType.DEFAULT_4XX, code: 'ClientError' },
  { type: apigw.ResponseType.DEFAULT_5XX, status: '500', code: 'InternalError' },
];

/**
 * The front door: a REST API with IAM (SigV4) authorization, stage throttling, access and execution logs,
 * tracing, and request validation from the same schema the handler validates with.
 */
export class OrdersApi extends Construct {
  readonly restApi: apigw.RestApi;
  readonly ordersFunction: ServiceFunction;
  readonly reconcileFunction: ServiceFunction;
  /** For client services: place orders and read them. */
  readonly clientPolicy: iam.ManagedPolicy;
  /** For operators: what clients may do, and reconcile (align, redrive, cancel, complete). */
  readonly operatorPolicy: iam.ManagedPolicy;
  /** The customers' user pool and the authorizer of the customer routes. */
  readonly customerAuth: CustomerAuth;
  /** Each named service's API key (its id is an output; its value stays in API Gateway). */
  readonly serviceKeys: ServiceUsagePlans['keys'];
  /** The stage's web ACL, where the stage configures one. */
  readonly webAcl?: wafv2.CfnWebACL;
  /** The secret order ids are derived with. */
  readonly orderIdKey: OrderIdKey;

  constructor(scope: Construct, id: string, props: OrdersApiProps) {
    super(scope, id);
    const { saga } = props.reconcile;
    const access = stageOf(this).apiAccess;
    const customerClaim = { CUSTOMER_CLAIM: access.customerClaim };

    this.ordersFunction = new ServiceFunction(this, 'OrdersApiFunction', {
      entry: lambdaEntry('orders-api/handler.ts'),
      environment: {
        STATE_MACHINE_ARN: liveAliasArnOf(saga.stateMachine),
        ...customerClaim,
        MAX_ORDERS_IN_FLIGHT: String(stageOf(this).ordersInFlightPerCustomer),
        ...(stageOf(this).legacyOrderIdsUntil
          ? { LEGACY_ORDER_IDS_UNTIL: stageOf(this).legacyOrderIdsUntil }
          : {}),
      },
      // UpdateItem records the execution once its start succeeded.
    }).useTable('TABLE_NAME', props.ordersTable, [
      'dynamodb:GetItem',
      'dynamodb:PutItem',
      'dynamodb:UpdateItem',
    ]);
    saga.stateMachine.grantStartExecution(this.ordersFunction);
    this.orderIdKey = new OrderIdKey(this, 'OrderIdKey');
    this.orderIdKey.grantDerive(this.ordersFunction);
    // An order's steps include those of the operator actions that ran on it.
    for (const machine of sagaMachines(saga))
      grantExecutionAccess(this.ordersFunction, machine, ['states:GetExecutionHistory']);

    this.reconcileFunction = new ServiceFunction(this, 'ReconcileFunction', {
      entry: lambdaEntry('orders-api/reconcile-handler.ts'),
      environment: customerClaim,
    }).useTable('TABLE_NAME', props.ordersTable, [
      'dynamodb:GetItem',
      'dynamodb:UpdateItem',
      // A status it changes is announced like any other change: the outbox row commits with it.
      'dynamodb:PutItem',
    ]);
    bindReconcile(this.reconcileFunction, props.reconcile, true);

    const accessLogs = new logs.LogGroup(this, 'AccessLogs', {
      retention: stageOf(this).logRetention,
      removalPolicy: stageOf(this).logRemovalPolicy,
    });
    this.restApi = new apigw.RestApi(this, 'RestApi', {
      description: 'order-saga: place orders, read them, reconcile them with their saga',
      // Account-wide: whether this stack sets it is the stage's choice (StageConfig.apiGatewayCloudWatchRole).
      cloudWatchRole: stageOf(this).apiGatewayCloudWatchRole,
      defaultMethodOptions: { authorizationType: apigw.AuthorizationType.IAM },
      policy: apiResourcePolicy(access, 'v1', Stack.of(this).account, CUSTOMER_PATH_PREFIX),
      deployOptions: {
        stageName: 'v1',
        throttlingRateLimit: props.throttlingRateLimit ?? 50,
        throttlingBurstLimit: props.throttlingBurstLimit ?? 100,
        accessLogDestination: new apigw.LogGroupLogDestination(accessLogs),
        accessLogFormat: apigw.AccessLogFormat.jsonWithStandardFields(),
        loggingLevel: apigw.MethodLoggingLevel.ERROR,
        // Request and response bodies hold addresses: execution logs keep errors, not payloads.
        dataTraceEnabled: false,
        tracingEnabled: true,
        metricsEnabled: true,
      },
    });
    for (const gatewayError of GATEWAY_ERRORS) {
      // The same shape as the handler's: a list of problems with paths. API Gateway names the field in its text.
      const details = gatewayError.withValidation
        ? ',"details":[{"path":"/","message":"$context.error.validationErrorString"}]'
        : '';
      this.restApi.addGatewayResponse(`${gatewayError.type.responseType}Response`, {
        type: gatewayError.type,
        ...(gatewayError.status ? { statusCode: gatewayError.status } : {}),
        ...(gatewayError.retryAfter
          ? { responseHeaders: { 'Retry-After': `'${gatewayError.retryAfter}'` } }
          : {}),
        templates: {
          'application/json': `{"error":{"code":"${gatewayError.code}","message":$context.error.messageString${details}}}`,
        },
      });
    }

    const validator = this.restApi.addRequestValidator('BodyAndParameters', {
      validateRequestBody: true,
      validateRequestParameters: true,
    });
    const createOrderModel = this.restApi.addModel('CreateOrderRequest', {
      modelName: 'CreateOrderRequest',
      contentType: 'application/json',
      schema: {
        schema: apigw.JsonSchemaVersion.DRAFT4,
        ...createOrderRequestSchema,
      } as unknown as apigw.JsonSchema,
    });

    const ordersIntegration = new apigw.LambdaIntegration(this.ordersFunction, { allowTestInvoke: false });
    const reconcileIntegration = new apigw.LambdaIntegration(this.reconcileFunction, {
      allowTestInvoke: false,
    });
    // One route family per way of authenticating (a REST API method has one): services sign /orders with
    // SigV4, customers send their ID token to /customer/orders; both reach the same functions.
    const addRoutes = (parent: apigw.IResource, auth: apigw.MethodOptions) => {
      const orders = parent.addResource('orders');
      orders.addMethod('POST', ordersIntegration, {
        ...auth,
        requestValidator: validator,
        requestModels: { 'application/json': createOrderModel },
        requestParameters: { [`method.request.header.${IDEMPOTENCY_KEY_HEADER}`]: true },
      });
      const order = orders.addResource('{orderId}');
      order.addMethod('GET', ordersIntegration, {
        ...auth,
        requestValidator: validator,
        requestParameters: { 'method.request.path.orderId': true },
      });
      order.addResource('reconcile').addMethod('POST', reconcileIntegration, {
        ...auth,
        requestValidator: validator,
        requestParameters: { 'method.request.path.orderId': true },
      });
      return orders;
    };
    // Keys only once services are named: a key that no caller was given would lock every caller out.
    const services = access.services ?? [];
    const serviceOrders = addRoutes(this.restApi.root, { apiKeyRequired: services.length > 0 });
    Validations.of(serviceOrders).acknowledge({
      id: 'AwsSolutions-COG4',
      reason:
        'These are the service routes: callers are services and operators with IAM identities, signing with SigV4 and limited by the resource policy; customers use the Cognito-authorized /customer routes.',
    });
    this.customerAuth = new CustomerAuth(this, 'CustomerAuth', access);
    addRoutes(this.restApi.root.addResource(CUSTOMER_PATH_PREFIX.slice(1)), {
      authorizationType: apigw.AuthorizationType.COGNITO,
      authorizer: this.customerAuth.authorizer,
    });

    const stage = this.restApi.deploymentStage.stageName;
    const placeOrder = this.restApi.arnForExecuteApi('POST', '/orders', stage);
    const readOrder = this.restApi.arnForExecuteApi('GET', '/orders/*', stage);
    const reconcileOrder = this.restApi.arnForExecuteApi('POST', '/orders/*/reconcile', stage);
    const invokePolicy = (id: string, description: string, routes: string[]) => {
      const policy = new iam.ManagedPolicy(this, id, {
        description,
        statements: [new iam.PolicyStatement({ actions: ['execute-api:Invoke'], resources: routes })],
      });
      for (const route of [readOrder, reconcileOrder].filter((wildcard) => routes.includes(wildcard))) {
        acknowledgeWildcardResource(
          policy,
          route,
          'Order ids are path parameters, unknown at deploy time: the wildcard stands for {orderId} on this one route of this API.',
        );
      }
      return policy;
    };
    this.clientPolicy = invokePolicy('ClientPolicy', 'order-saga clients: place orders and read them', [
      placeOrder,
      readOrder,
    ]);
    this.operatorPolicy = invokePolicy(
      'OperatorPolicy',
      'order-saga operators: place and read orders, and reconcile them (align, redrive, cancel, complete)',
      [placeOrder, readOrder, reconcileOrder],
    );

    this.serviceKeys = new ServiceUsagePlans(this, 'Services', this.restApi, services).keys;
    const waf = stageOf(this).waf;
    if (waf) {
      this.webAcl = new ApiWebAcl(this, 'Waf', {
        stage: this.restApi.deploymentStage,
        requestsPerIpPer5Minutes: waf.requestsPerIpPer5Minutes,
        metricPrefix: Stack.of(this).stackName,
      }).webAcl;
    } else {
      Validations.of(this.restApi).acknowledge({
        id: 'AwsSolutions-APIG3',
        reason:
          "This stage runs without AWS WAF (its monthly cost per web ACL and rule), as the stage's configuration chose: callers are authenticated (SigV4 or a Cognito token), the stage is throttled, bodies are validated and refused past 16 KB, and each customer's orders in flight are capped. The prod stage has a web ACL.",
      });
    }
    if (stageOf(this).apiGatewayCloudWatchRole)
      Validations.of(this.restApi).acknowledge({
        id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]',
        reason:
          "API Gateway's account-wide logging role needs this AWS-managed policy, which writes logs and also reads (describes, gets, filters) every log group in the account; stages that must not hold that role leave it to the account baseline (apiGatewayCloudWatchRole: false).",
      });
  }
}
