import { createHash } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import {
  type CfnTemplate,
  constructIdOf,
  isRecord,
  type PhysicalNames,
  resourcesOfType,
} from '../template.js';
import { parseAwsCall } from './requests.js';

/** Who sent to a queue, as the SQS front learns it: the caller's access key, and what SQS answered. */
export interface SendObserver {
  /** A SendMessage or SendMessageBatch answered 200: its request headers and body, and the answer's body. */
  sent(headers: IncomingHttpHeaders, requestBody: Buffer, answer: Buffer): void;
  /** A move task (DLQ redrive) sent a message again under a new id: it keeps its sender, as the message is moved. */
  moved(fromMessageId: string, toMessageId: string): void;
}

/** The targets whose answers name the messages they sent. */
export const SEND_TARGETS = new Set(['AmazonSQS.SendMessage', 'AmazonSQS.SendMessageBatch']);

/** Messages remembered at most; the oldest are forgotten first (a message lives minutes in the local cloud). */
const REMEMBERED = 100_000;

function roleIdOfProperty(value: unknown, names: PhysicalNames): string | undefined {
  const getAtt = isRecord(value) ? value['Fn::GetAtt'] : undefined;
  const role = Array.isArray(getAtt) ? String(getAtt[0]) : undefined;
  return role ? names[role]?.attributes.RoleId : undefined;
}

/**
 * SQS's `SenderId` for the messages the functions and state machines send: `<role id>:<session>`, the role id
 * (AROA…) being the template role's (physical names give each one), the session a function's name or, for a
 * state machine, an opaque id, as AWS names assumed roles. Messages sent by anyone else (the local cloud's own
 * clients, a test's) keep the emulator's account id, as a message from an IAM user or the account would not
 * carry a role id either.
 */
export class SenderIds {
  private readonly byMessage = new Map<string, string>();
  private readonly functionRoles = new Map<string, string>();
  private readonly machineRoles = new Map<string, string>();

  constructor(template: CfnTemplate, names: PhysicalNames) {
    for (const [logicalId, resource] of resourcesOfType(template, 'AWS::Lambda::Function')) {
      const roleId = roleIdOfProperty(resource.Properties?.Role, names);
      const name = names[logicalId]?.ref;
      if (roleId && name) this.functionRoles.set(name, roleId);
    }
    for (const [logicalId, resource] of resourcesOfType(template, 'AWS::StepFunctions::StateMachine')) {
      const roleId = roleIdOfProperty(resource.Properties?.RoleArn, names);
      if (roleId) this.machineRoles.set(constructIdOf(template, logicalId), roleId);
    }
  }

  /** The SenderId of a function (by name) or a state machine (by construct id); undefined for another role. */
  senderOf(principal: { kind: 'function'; name: string } | { kind: 'stateMachine'; label: string }) {
    if (principal.kind === 'function') {
      const roleId = this.functionRoles.get(principal.name);
      return roleId && `${roleId}:${principal.name}`;
    }
    const roleId = this.machineRoles.get(principal.label);
    const session = createHash('sha256').update(principal.label).digest('hex').slice(0, 32);
    return roleId && `${roleId}:${session}`;
  }

  /** What the SQS front reports, given who signed with which access key. */
  observer(senderOfKey: (accessKeyId: string) => string | undefined): SendObserver {
    return {
      sent: (headers, requestBody, answer) => {
        const accessKeyId = parseAwsCall(headers, requestBody.toString('utf8'))?.accessKeyId;
        const senderId = accessKeyId ? senderOfKey(accessKeyId) : undefined;
        if (!senderId) return;
        const parsed: unknown = JSON.parse(answer.toString('utf8') || '{}');
        if (!isRecord(parsed)) return;
        const entries = Array.isArray(parsed.Successful) ? parsed.Successful : [parsed];
        for (const entry of entries)
          if (isRecord(entry) && typeof entry.MessageId === 'string')
            this.remember(entry.MessageId, senderId);
      },
      moved: (fromMessageId, toMessageId) => {
        const senderId = this.byMessage.get(fromMessageId);
        if (senderId) this.remember(toMessageId, senderId);
      },
    };
  }

  /** The SenderId of a received message, when a function or state machine sent it. */
  of(messageId: string | undefined): string | undefined {
    return messageId === undefined ? undefined : this.byMessage.get(messageId);
  }

  private remember(messageId: string, senderId: string): void {
    this.byMessage.set(messageId, senderId);
    if (this.byMessage.size > REMEMBERED) {
      const [oldest] = this.byMessage.keys();
      if (oldest !== undefined) this.byMessage.delete(oldest);
    }
  }
}
