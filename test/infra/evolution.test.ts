import { readFileSync } from 'node:fs';
import { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { describe, expect, it } from 'vitest';
import { Saga, type SagaTaskFactory } from '../../lib/saga/saga.js';
import { compareReleases, formatComparison, type Release } from '../../scripts/evolution/compare.js';
import { extractRelease, synthDefaultStage } from '../../scripts/evolution/extract.js';
import { testApp } from './synth.js';

const RELEASE_FILE = new URL('../../contract/release.json', import.meta.url);

function committedRelease(): Release {
  return JSON.parse(readFileSync(RELEASE_FILE, 'utf8')) as Release;
}

const SAGA = 'OrderSagaStateMachine15260A25';
const UNWIND = 'OrderSagaUnwindStateMachineC7F4E4A5';
const ORDERS_TABLE = 'OrdersTable1F8332C7';
const SHIPPING_REQUESTS = 'ShippingRequestsQueue0B39923A';
const CHARGE_ROLE = 'PaymentsChargePaymentRole2934F655';
const SAGA_ROLE = 'OrderSagaStateMachineRole5396F865';

/** The committed release against a copy changed by `change`: what the check reports for that change alone. */
function afterChange(change: (current: Release) => void) {
  const released = committedRelease();
  const current = committedRelease();
  change(current);
  const comparison = compareReleases(released, current);
  return { ...comparison, messages: comparison.failures.map((f) => `[${f.rule}] ${f.message}`) };
}

function defined<T>(value: T | undefined): T {
  if (value === undefined) throw new Error('The committed release lacks what this test changes');
  return value;
}

function state(release: Release, machine: string, name: string) {
  const found = release.machines[machine]?.states[name];
  if (!found) throw new Error(`No state ${name} in ${machine}`);
  return found;
}

describe('the evolution check (npm run check:evolution)', () => {
  // The CI gate: main must be able to deploy over the committed release without stranding a running saga.
  it('passes the app on main against the committed release', () => {
    const { stack, resources } = synthDefaultStage();
    const comparison = compareReleases(committedRelease(), extractRelease(stack, resources));
    expect(comparison.failures, formatComparison(comparison, 'contract/release.json')).toEqual([]);
  });

  it('names the machines, tables, queues and roles these tests mutate', () => {
    const release = committedRelease();
    expect(Object.keys(release.machines)).toEqual(expect.arrayContaining([SAGA, UNWIND]));
    expect(Object.keys(release.resources)).toEqual(expect.arrayContaining([ORDERS_TABLE, SHIPPING_REQUESTS]));
    expect(Object.keys(release.roles)).toEqual(expect.arrayContaining([CHARGE_ROLE, SAGA_ROLE]));
  });

  it('finds nothing to say about an unchanged app', () => {
    expect(afterChange(() => {})).toMatchObject({ failures: [], notes: [] });
  });

  describe('fails on a replaced state machine, table or queue', () => {
    it('a state machine whose logical id changed', () => {
      const { messages } = afterChange((current) => {
        const machine = current.resources[SAGA];
        delete current.resources[SAGA];
        current.resources.OrderSagaStateMachineRenamed = machine as never;
      });
      expect(messages).toEqual([
        expect.stringMatching(
          /^\[replacement\] AWS::StepFunctions::StateMachine OrderSagaStateMachine15260A25 \(OrderSaga\/StateMachine\/Resource\) is gone: CloudFormation would delete it and create OrderSagaStateMachineRenamed in its place/,
        ),
      ]);
    });

    it('a state machine given a name', () => {
      const { messages } = afterChange((current) => {
        defined(current.resources[SAGA]).replacement.StateMachineName = 'order-saga';
      });
      expect(messages).toEqual([
        `[replacement] AWS::StepFunctions::StateMachine ${SAGA} (OrderSaga/StateMachine/Resource): StateMachineName changes from (unset) to "order-saga", which makes CloudFormation replace it`,
      ]);
    });

    it('a state machine turned Express', () => {
      const { messages } = afterChange((current) => {
        defined(current.resources[SAGA]).replacement.StateMachineType = 'EXPRESS';
      });
      expect(messages).toEqual([
        expect.stringContaining('StateMachineType changes from "STANDARD" to "EXPRESS"'),
      ]);
    });

    it('a table whose key schema changed', () => {
      const { messages } = afterChange((current) => {
        defined(current.resources[ORDERS_TABLE]).replacement.KeySchema = [
          { AttributeName: 'orderId', KeyType: 'HASH' },
        ];
      });
      expect(messages).toEqual([
        expect.stringMatching(
          /^\[replacement\] AWS::DynamoDB::Table OrdersTable1F8332C7 .*: KeySchema changes from/,
        ),
      ]);
    });

    it('a queue renamed or made FIFO', () => {
      const { messages } = afterChange((current) => {
        const queue = defined(current.resources[SHIPPING_REQUESTS]).replacement;
        queue.QueueName = `\${AWS::StackName}-shipping-requests.fifo`;
        queue.FifoQueue = true;
      });
      expect(messages).toEqual([
        expect.stringContaining(`QueueName changes from "\${AWS::StackName}-shipping-requests" to`),
        expect.stringContaining('FifoQueue changes from (unset) to true'),
      ]);
    });
  });

  describe('fails on a changed barrier key', () => {
    it('a step whose barrier id changed', () => {
      const { messages } = afterChange((current) => {
        defined(current.barriers.chargePayment).barrierId = 'Charge';
      });
      expect(messages).toEqual([
        '[barrier] step chargePayment (ChargePayment) changes its barrier id from ChargePayment to Charge: a running saga would look for its barrier rows under a key they are not stored under',
      ]);
    });

    it('a step removed with its barrier id', () => {
      const { messages } = afterChange((current) => {
        delete current.barriers.chargePayment;
      });
      expect(messages).toEqual([expect.stringMatching(/^\[barrier\] step chargePayment .* are gone/)]);
    });

    it('but not a renamed state that keeps its barrier id', () => {
      const { failures, notes } = afterChange((current) => {
        defined(current.barriers.chargePayment).state = 'ChargeCard';
      });
      expect(failures).toEqual([]);
      expect(notes).toEqual(['step chargePayment renamed from ChargePayment to ChargeCard, barrier id kept']);
    });
  });

  describe('fails on a renamed or removed business error', () => {
    it('a name gone from the list of business errors', () => {
      const { messages, notes } = afterChange((current) => {
        current.businessErrors.names = current.businessErrors.names.map((name) =>
          name === 'PaymentDeclined' ? 'CardDeclined' : name,
        );
      });
      expect(messages).toEqual([
        expect.stringMatching(/^\[business-error\] business error PaymentDeclined is renamed or removed/),
      ]);
      expect(notes).toEqual(['new business error CardDeclined']);
    });

    it('a step that no longer declares one', () => {
      const { messages } = afterChange((current) => {
        current.businessErrors.steps.ChargePayment = [
          'InsufficientFunds',
          'InvalidStepInput',
          'OrderCancelled',
        ];
      });
      expect(messages).toEqual([
        '[business-error] step ChargePayment no longer declares business error PaymentDeclined',
      ]);
    });
  });

  describe('fails on an incompatible step payload', () => {
    it('a field a step received is gone', () => {
      const { messages } = afterChange((current) => {
        const charge = state(current, SAGA, 'ChargePayment');
        charge.payload = charge.payload?.map((field) => (field === 'amountCents' ? 'amount' : field)).sort();
      });
      expect(messages).toEqual([
        '[payload] OrderSaga/StateMachine/Resource: task ChargePayment no longer sends amountCents: a step of a running saga would receive a payload it cannot read',
      ]);
    });

    it('a field nested in a callback message is gone', () => {
      const { messages } = afterChange((current) => {
        const shipment = state(current, SAGA, 'CreateShipment');
        shipment.payload = shipment.payload?.filter((field) => field !== 'request.shippingAddress');
      });
      expect(messages).toEqual([
        expect.stringContaining('task CreateShipment no longer sends request.shippingAddress'),
      ]);
    });

    it('a task gone from a machine', () => {
      const { messages } = afterChange((current) => {
        delete defined(current.machines[UNWIND]).states.RefundPayment;
      });
      expect(messages).toEqual([
        expect.stringMatching(
          /^\[payload\] OrderSaga\/UnwindStateMachine\/Resource: task RefundPayment is gone/,
        ),
      ]);
    });

    it('but not an added field', () => {
      const { failures, notes } = afterChange((current) => {
        state(current, SAGA, 'ChargePayment').payload?.push('currency');
      });
      expect(failures).toEqual([]);
      expect(notes).toEqual(['OrderSaga/StateMachine/Resource: task ChargePayment also sends currency']);
    });
  });

  describe('fails on a removed grant a step still needs', () => {
    it('an action taken from a step function’s role', () => {
      const { messages } = afterChange((current) => {
        const role = defined(current.roles[CHARGE_ROLE]);
        role.grants = role.grants.filter((grant) => !grant.startsWith('dynamodb:UpdateItem '));
      });
      expect(messages).toEqual([
        `[grant] role ${CHARGE_ROLE} (serving ${SAGA}:ChargePayment) loses "dynamodb:UpdateItem \${PaymentsTable9E001CC6.Arn}": a running saga’s step still needs it`,
      ]);
    });

    it('an invoke taken from the machine’s role', () => {
      const { messages } = afterChange((current) => {
        const role = defined(current.roles[SAGA_ROLE]);
        role.grants = role.grants.filter(
          (grant) => grant !== `lambda:InvokeFunction \${PaymentsChargePayment3FC11F09.Arn}`,
        );
      });
      expect(messages).toEqual([
        expect.stringContaining(`loses "lambda:InvokeFunction \${PaymentsChargePayment3FC11F09.Arn}"`),
      ]);
    });

    it('but not a grant widened to a wildcard', () => {
      const { failures } = afterChange((current) => {
        const role = defined(current.roles[CHARGE_ROLE]);
        role.grants = [
          ...role.grants.filter((grant) => !grant.startsWith('dynamodb:')),
          `dynamodb:* \${PaymentsTable9E001CC6.Arn}`,
        ];
      });
      expect(failures).toEqual([]);
    });
  });

  it('passes a task moving to the lambda:invoke integration and a new alias: additions and changed targets are notes', () => {
    let released = '';
    const { failures, notes } = afterChange((current) => {
      const charge = state(current, SAGA, 'ChargePayment');
      released = String(charge.resource);
      charge.resource = `arn:\${AWS::Partition}:states:::lambda:invoke`;
      defined(current.roles[SAGA_ROLE]).grants.push(
        `lambda:InvokeFunction \${PaymentsChargePayment3FC11F09.Arn}:\${PaymentsChargePaymentCurrentVersion1.Version}`,
      );
      current.resources.OrderSagaStateMachineCanaryAlias = {
        type: 'AWS::StepFunctions::StateMachineAlias',
        path: 'OrderSaga/StateMachine/Canary/Alias',
        replacement: {},
      };
    });
    // The release invokes a published version of the function, never the function itself.
    expect(released).toMatch(
      /^\$\{PaymentsChargePayment3FC11F09\.Arn\}:\$\{PaymentsChargePaymentCurrentVersion\w+\.Version\}$/,
    );
    expect(failures).toEqual([]);
    expect(notes).toEqual([
      'new AWS::StepFunctions::StateMachineAlias OrderSagaStateMachineCanaryAlias (OrderSaga/StateMachine/Canary/Alias)',
      `OrderSaga/StateMachine/Resource: task ChargePayment now calls arn:\${AWS::Partition}:states:::lambda:invoke (was ${released})`,
      `role ${SAGA_ROLE} is also granted "lambda:InvokeFunction \${PaymentsChargePayment3FC11F09.Arn}:\${PaymentsChargePaymentCurrentVersion1.Version}"`,
    ]);
  });

  it('reports every failure with its rule and how to release deliberately', () => {
    const comparison = afterChange((current) => {
      defined(current.barriers.chargePayment).barrierId = 'Charge';
    });
    expect(formatComparison(comparison, 'contract/release.json')).toMatch(
      /^FAIL \[barrier\] step chargePayment .*\n1 change\(s\) would strand or corrupt sagas started on contract\/release.json\. .*`npm run release:definition`\.$/,
    );
  });

  describe('reads a saga whose tasks invoke published versions', () => {
    /** A one-step saga invoking its function's current version through the lambda:invoke integration. */
    function versionedSaga(code: string, options: { grantEveryVersion: boolean }) {
      const stack = new Stack(testApp(), 'Versioned');
      const fn = new lambda.Function(stack, 'Book', {
        runtime: lambda.Runtime.NODEJS_22_X,
        handler: 'index.handler',
        code: lambda.Code.fromInline(code),
      });
      const invokeVersion: SagaTaskFactory = (scope, taskOptions) =>
        new tasks.LambdaInvoke(scope, taskOptions.stateName, {
          lambdaFunction: fn.currentVersion,
          payload: taskOptions.payload,
          resultPath: taskOptions.resultPath,
          retryOnServiceExceptions: false,
        });
      const saga = new Saga(stack, 'Saga', {
        steps: [
          {
            name: 'Book',
            task: invokeVersion,
            payload: sfn.TaskInput.fromObject({ orderId: sfn.JsonPath.stringAt('$.orderId') }),
          },
        ],
        succeededStateName: 'Done',
        finalCompensation: { name: 'Close', task: invokeVersion },
        cancelledStateName: 'Undone',
        escalation: { name: 'Page', task: invokeVersion },
        escalatedStateName: 'Escalated',
      });
      if (options.grantEveryVersion) {
        fn.grantInvoke(saga.stateMachine);
        fn.grantInvoke(saga.unwindStateMachine);
      }
      return extractRelease(stack, Template.fromStack(stack).toJSON().Resources);
    }

    it('takes the payload from inside the integration and the function’s role as the step’s', () => {
      const release = versionedSaga('exports.handler = async () => 1;', { grantEveryVersion: false });
      expect(release.machines.SagaStateMachine2D1F7D68?.states.Book).toMatchObject({
        resource: expect.stringMatching(
          /^arn:\$\{AWS::Partition\}:states:::lambda:invoke \$\{BookBD4B9F77\.Arn\}:/,
        ),
        payload: ['orderId'],
      });
      expect(release.roles.BookServiceRoleA64C8973?.serves).toContain('SagaStateMachine2D1F7D68:Book');
      const machineRole = Object.entries(release.roles).find(([id]) => id.startsWith('SagaStateMachineRole'));
      expect(machineRole?.[1].grants).toContainEqual(
        expect.stringMatching(
          /^lambda:InvokeFunction \$\{BookBD4B9F77\.Arn\}:\$\{BookCurrentVersion\w+\.Version\}$/,
        ),
      );
    });

    // A running execution keeps the definition it started on, so it goes on invoking the version released then.
    it('fails a new version when the machine may invoke only the newest one', () => {
      const released = versionedSaga('exports.handler = async () => 1;', { grantEveryVersion: false });
      const current = versionedSaga('exports.handler = async () => 2;', { grantEveryVersion: false });
      expect(compareReleases(released, current).failures).toEqual([
        {
          rule: 'grant',
          message: expect.stringMatching(
            /^role SagaStateMachineRole\w+ .* loses "lambda:InvokeFunction \$\{BookBD4B9F77\.Arn\}:\$\{BookCurrentVersion/,
          ),
        },
        {
          rule: 'grant',
          message: expect.stringMatching(
            /^role SagaUnwindStateMachineRole\w+ .* loses "lambda:InvokeFunction \$\{BookBD4B9F77\.Arn\}:\$\{BookCurrentVersion/,
          ),
        },
      ]);
    });

    it('tracks an alias of the machine: new, it is a note; renamed, a replacement', () => {
      const withAlias = (name: string) => {
        const stack = new Stack(testApp(), 'Aliased');
        const machine = new sfn.StateMachine(stack, 'Machine', {
          definitionBody: sfn.DefinitionBody.fromChainable(new sfn.Pass(stack, 'Start')),
        });
        const version = new sfn.CfnStateMachineVersion(stack, 'Version', {
          stateMachineArn: machine.stateMachineArn,
        });
        new sfn.CfnStateMachineAlias(stack, 'Live', {
          name,
          routingConfiguration: [{ stateMachineVersionArn: version.attrArn, weight: 100 }],
        });
        return extractRelease(stack, Template.fromStack(stack).toJSON().Resources);
      };
      const unaliased = withAlias('live');
      const aliasId = Object.keys(unaliased.resources).find((id) => id.startsWith('Live'));
      expect(aliasId).toBeDefined();
      delete unaliased.resources[aliasId as string];
      expect(compareReleases(unaliased, withAlias('live'))).toEqual({
        failures: [],
        notes: [`new AWS::StepFunctions::StateMachineAlias ${aliasId} (Live)`],
      });
      expect(compareReleases(withAlias('live'), withAlias('current')).failures).toEqual([
        {
          rule: 'replacement',
          message: expect.stringContaining('Name changes from "live" to "current"'),
        },
      ]);
    });

    it('passes a new version when the machine may invoke every version', () => {
      const released = versionedSaga('exports.handler = async () => 1;', { grantEveryVersion: true });
      const current = versionedSaga('exports.handler = async () => 2;', { grantEveryVersion: true });
      const comparison = compareReleases(released, current);
      expect(comparison.failures).toEqual([]);
      expect(comparison.notes).toContainEqual(expect.stringMatching(/task Book now calls/));
    });
  });
});
