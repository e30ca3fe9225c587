import { createHash, randomUUID } from 'node:crypto';
import { CALLBACK_FAULT_MODES, type FaultRegistry } from './faults.js';
import type { JsonValue, ServiceIntegration, TaskTokenRegistry } from './stepfunctions-engine.js';
import { isRecord } from './template.js';
import type { Tracer } from './trace.js';

function messageBodyOf(parameters: JsonValue): string {
  const body = isRecord(parameters) ? parameters.MessageBody : undefined;
  return typeof body === 'string' ? body : JSON.stringify(body ?? null);
}

/** What SQS answers for a message it accepted: Step Functions records it even when nobody ever reads it. */
function undeliveredReceipt(parameters: JsonValue): JsonValue {
  return {
    MessageId: randomUUID(),
    MD5OfMessageBody: createHash('md5').update(messageBodyOf(parameters)).digest('hex'),
  };
}

/**
 * Applies callback faults (see faults.ts) to a `.waitForTaskToken` service call such as sqs:sendMessage, by
 * its state's name: the faults are in the message's delivery and in the worker's answer to the token, so they
 * act on the send and on the token registry; a call without a token passes through untouched.
 */
export function withCallbackFaults(
  integration: ServiceIntegration,
  from: { faults: FaultRegistry; tracer: Tracer; taskTokens: TaskTokenRegistry },
): ServiceIntegration {
  const { faults, tracer, taskTokens } = from;
  return async (parameters, task) => {
    const token = task.taskToken;
    if (token === undefined) return integration(parameters, task);
    // Correlated as the worker would see the message: a queue record, with the app's data in its body.
    const correlationId =
      tracer.correlationIdOf(parameters) ??
      tracer.correlationIdOf({ Records: [{ body: messageBodyOf(parameters) }] });
    const mode = faults.take([task.stateName], correlationId, CALLBACK_FAULT_MODES);
    if (mode) tracer.fault(correlationId, task.stateName, mode);
    switch (mode) {
      case 'timeout':
        return undeliveredReceipt(parameters);
      case 'error': {
        const receipt = undeliveredReceipt(parameters);
        taskTokens.sendTaskFailure(token, 'InjectedError', `Fault injected into ${task.stateName}`);
        return receipt;
      }
      case 'lost-response':
        taskTokens.loseAnswers(token);
        return integration(parameters, task);
      case 'duplicate-delivery': {
        const [first] = await Promise.all([integration(parameters, task), integration(parameters, task)]);
        return first;
      }
      default:
        return integration(parameters, task);
    }
  };
}
