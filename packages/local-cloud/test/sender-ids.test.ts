import { describe, expect, it } from 'vitest';
import { SenderIds } from '../src/aws-calls/sender-ids.js';
import { type CfnTemplate, physicalNames } from '../src/template.js';

const getAtt = (logicalId: string) => ({ 'Fn::GetAtt': [logicalId, 'Arn'] });
const template: CfnTemplate = {
  Resources: {
    Relay: {
      Type: 'AWS::Lambda::Function',
      Properties: { FunctionName: 'relay', Role: getAtt('RelayRole') },
    },
    RelayRole: { Type: 'AWS::IAM::Role', Properties: {} },
    Saga: {
      Type: 'AWS::StepFunctions::StateMachine',
      Properties: { RoleArn: getAtt('SagaRole') },
      Metadata: { 'aws:cdk:path': 'Shop/Saga/StateMachine/Resource' },
    },
    SagaRole: { Type: 'AWS::IAM::Role', Properties: {} },
  },
};
const names = physicalNames(template, { stackName: 'Shop' });
const roleId = (logicalId: string) => names[logicalId]?.attributes.RoleId ?? '';

/** A SendMessage as the SDK signs it with `accessKeyId`, and SQS's answer naming `messageIds`. */
function send(accessKeyId: string, ...messageIds: string[]) {
  const batch = messageIds.length > 1;
  return {
    headers: {
      'x-amz-target': batch ? 'AmazonSQS.SendMessageBatch' : 'AmazonSQS.SendMessage',
      authorization: `AWS4-HMAC-SHA256 Credential=${accessKeyId}/20260101/us-east-1/sqs/aws4_request, SignedHeaders=host, Signature=0`,
    },
    body: Buffer.from(JSON.stringify({ QueueUrl: 'http://sqs.us-east-1.localhost/000000000000/events' })),
    answer: Buffer.from(
      JSON.stringify(
        batch ? { Successful: messageIds.map((MessageId) => ({ MessageId })) } : { MessageId: messageIds[0] },
      ),
    ),
  };
}

describe('SenderIds', () => {
  const principals: Record<
    string,
    { kind: 'function'; name: string } | { kind: 'stateMachine'; label: string }
  > = {
    RELAYKEY: { kind: 'function', name: 'relay' },
    SAGAKEY: { kind: 'stateMachine', label: 'Saga' },
  };
  const senderIds = () => {
    const ids = new SenderIds(template, names);
    const principal = (key: string) => principals[key];
    return {
      ids,
      observer: ids.observer((key) => {
        const found = principal(key);
        return found && ids.senderOf(found);
      }),
    };
  };

  it("names a function's message `<role id>:<function name>` and a state machine's `<role id>:<session>`", () => {
    const { ids, observer } = senderIds();
    const fromRelay = send('RELAYKEY', 'm-1', 'm-2');
    observer.sent(fromRelay.headers, fromRelay.body, fromRelay.answer);
    const fromSaga = send('SAGAKEY', 'm-3');
    observer.sent(fromSaga.headers, fromSaga.body, fromSaga.answer);

    expect(roleId('RelayRole')).toMatch(/^AROA[0-9A-Z]{16}$/);
    expect(ids.of('m-1')).toBe(`${roleId('RelayRole')}:relay`);
    expect(ids.of('m-2')).toBe(`${roleId('RelayRole')}:relay`);
    expect(ids.of('m-3')).toMatch(new RegExp(`^${roleId('SagaRole')}:[0-9a-f]{32}$`));
  });

  it('knows nothing of a caller outside the template, and keeps the sender of a moved message', () => {
    const { ids, observer } = senderIds();
    const stranger = send('SOMEONE', 'm-4');
    observer.sent(stranger.headers, stranger.body, stranger.answer);
    const fromRelay = send('RELAYKEY', 'm-5');
    observer.sent(fromRelay.headers, fromRelay.body, fromRelay.answer);
    observer.moved('m-5', 'm-6');
    observer.moved('m-4', 'm-7');

    expect(ids.of('m-4')).toBeUndefined();
    expect(ids.of('m-6')).toBe(ids.of('m-5'));
    expect(ids.of('m-7')).toBeUndefined();
  });
});
