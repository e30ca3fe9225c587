import { mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { GetExecutionHistoryCommand, type HistoryEvent, SFNClient } from '@aws-sdk/client-sfn';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type OrderSagaCloud, startLocalCloud } from '../../local/cloud.js';
import type { Seed } from '../../local/seed.js';

/**
 * The most common way a serverless change fails in production is a missing grant. This test takes one grant away
 * from the synthesized template (the payments charge function's dynamodb:PutItem on its table) and runs the
 * saga on a local cloud of its own: the charge fails at its write with the AccessDeniedException AWS sends, and
 * the saga compensates as it would for any failed step, so the order ends CANCELLED with its stock given back.
 */
const projectRoot = fileURLToPath(new URL('../..', import.meta.url));
const TIME_SCALE = 0.1;
const SKU = 'IAM-DENIED';
const CUSTOMER = 'iam-denied-buyer';
const seed: Seed = {
  inventory: [{ sku: SKU, stock: 10, priceCents: 250 }],
  accounts: [{ customerId: CUSTOMER, balanceCents: 100_000 }],
};

interface CfnResource {
  Type: string;
  Properties?: Record<string, unknown>;
  Metadata?: Record<string, unknown>;
}
type Template = { Resources: Record<string, CfnResource> };

/** Removes `action` from the statements of the policies attached to the role of the function at `functionPath`. */
function withoutGrant(template: Template, functionPath: RegExp, action: string): string {
  const resources = Object.entries(template.Resources);
  const [, fn] =
    resources.find(
      ([, resource]) =>
        resource.Type === 'AWS::Lambda::Function' &&
        functionPath.test(String(resource.Metadata?.['aws:cdk:path'])),
    ) ?? [];
  const roleId = (fn?.Properties?.Role as { 'Fn::GetAtt'?: string[] } | undefined)?.['Fn::GetAtt']?.[0];
  const removedFrom: string[] = [];
  for (const [logicalId, resource] of resources) {
    const roles = (resource.Properties?.Roles ?? []) as { Ref?: string }[];
    if (resource.Type !== 'AWS::IAM::Policy' || !roles.some((role) => role.Ref === roleId)) continue;
    const document = resource.Properties?.PolicyDocument as { Statement: { Action: string | string[] }[] };
    for (const statement of document.Statement) {
      const actions = [statement.Action].flat();
      if (!actions.includes(action)) continue;
      statement.Action = actions.filter((granted) => granted !== action);
      removedFrom.push(logicalId);
    }
  }
  if (removedFrom.length !== 1)
    throw new Error(`expected one ${action} grant to remove, found ${removedFrom.length}`);
  return removedFrom[0] ?? '';
}

/** A copy of cdk.out (bundles linked, not copied) whose template is changed by `edit`. */
function assemblyCopy(edit: (template: Template) => void): string {
  const cdkOut = path.join(projectRoot, 'cdk.out');
  const copy = mkdtempSync(path.join(tmpdir(), 'order-saga-iam-'));
  for (const entry of readdirSync(cdkOut)) {
    if (entry.endsWith('.template.json')) {
      const template = JSON.parse(readFileSync(path.join(cdkOut, entry), 'utf8')) as Template;
      edit(template);
      writeFileSync(path.join(copy, entry), JSON.stringify(template));
    } else {
      symlinkSync(path.join(cdkOut, entry), path.join(copy, entry));
    }
  }
  return copy;
}

let cloud: OrderSagaCloud;
let assemblyDir: string;
let sfn: SFNClient;

beforeAll(async () => {
  // The layer's global setup has synthesized cdk.out; this cloud runs a changed copy of it, never a synth.
  assemblyDir = assemblyCopy((template) =>
    withoutGrant(template, /\/ChargePayment\/Resource$/, 'dynamodb:PutItem'),
  );
  cloud = await startLocalCloud({ projectRoot, assemblyDir, port: 0, timeScale: TIME_SCALE, seed });
  sfn = new SFNClient({
    endpoint: cloud.endpoints.sfn,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
}, 120_000);

afterAll(async () => {
  await cloud?.stop();
  if (assemblyDir) rmSync(assemblyDir, { recursive: true, force: true });
});

async function placeOrder(): Promise<string> {
  const response = await fetch(`${cloud.apiUrl}/orders`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'idempotency-key': `iam-denied-${Date.now()}` },
    body: JSON.stringify({
      customerId: CUSTOMER,
      items: [{ sku: SKU, quantity: 2 }],
      shippingAddress: { line1: '1 Main St', city: 'Springfield', postalCode: '12345', country: 'US' },
    }),
  });
  expect(response.status).toBe(202);
  return ((await response.json()) as { orderId: string }).orderId;
}

async function finishedOrder(orderId: string): Promise<{ status: string }> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const order = (await (await fetch(`${cloud.apiUrl}/orders/${orderId}`)).json()) as { status: string };
    if (order.status !== 'PENDING' || Date.now() > deadline) return order;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('a grant taken away from the template', () => {
  it('fails the saga at the step that needs it, with AccessDeniedException, and compensates', async () => {
    const orderId = await placeOrder();
    const order = await finishedOrder(orderId);

    expect(order.status).toBe('CANCELLED');
    const execution = cloud.executions().find((candidate) => candidate.executionArn.endsWith(`:${orderId}`));
    if (!execution) throw new Error(`no execution for ${orderId}`);
    const events: HistoryEvent[] =
      (await sfn.send(new GetExecutionHistoryCommand({ executionArn: execution.executionArn }))).events ?? [];
    const entered = events
      .filter((event) => event.type === 'TaskStateEntered')
      .map((event) => event.stateEnteredEventDetails?.name);
    // The charge fails at once: AccessDenied is no transient error, so it is not retried.
    expect(entered).toEqual([
      'ReserveInventory',
      'ChargePayment',
      'RefundPayment',
      'ReleaseInventory',
      'CancelOrder',
    ]);
    // A Task on a function ARN reports the function's error as LambdaFunctionFailed.
    const failed = events
      .filter((event) => event.type === 'LambdaFunctionFailed')
      .map((event) => event.lambdaFunctionFailedEventDetails);
    expect(failed).toHaveLength(1);
    expect(failed[0]?.error).toBe('AccessDeniedException');
    expect(failed[0]?.cause).toMatch(
      /is not authorized to perform: dynamodb:PutItem on resource: arn:aws:dynamodb:[^ ]+:table\/[^ ]*PaymentsTable[^ ]* because no identity-based policy allows the dynamodb:PutItem action/,
    );

    // Nothing of the charge was written; the stock came back.
    const state = await cloud.snapshot();
    expect(state.charges.filter((charge) => charge.orderId === orderId)).toEqual([]);
    expect(state.accounts.find((account) => account.customerId === CUSTOMER)?.balanceCents).toBe(100_000);
    expect(state.inventory.find((item) => item.sku === SKU)).toMatchObject({ available: 10 });

    // The only denial is that one write, by the charge function: no other step lacked a grant.
    expect(cloud.iamReport()?.denials.map(({ principal, action }) => `${principal} ${action}`)).toEqual([
      'ChargePayment dynamodb:PutItem',
    ]);
  });
});
