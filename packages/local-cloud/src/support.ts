import { isRecord } from './template.js';

/**
 * What the local engine cannot run, or runs differently from AWS without saying so. The local cloud
 * refuses such a definition at start, and a test keeps the real one clear of them.
 */
const SUPPORTED_INTEGRATIONS = [
  'arn:aws:states:::lambda:invoke',
  'arn:aws:states:::sqs:sendMessage',
  'arn:aws:states:::sqs:sendMessage.waitForTaskToken',
];

type Json = Record<string, unknown>;

function contextReferences(value: unknown): string[] {
  if (typeof value === 'string') return value.match(/\$\$\.[A-Za-z.]+/g) ?? [];
  if (Array.isArray(value)) return value.flatMap(contextReferences);
  if (isRecord(value)) return Object.values(value).flatMap(contextReferences);
  return [];
}

export function findLocallyUnsupported(definition: Json, scope = ''): string[] {
  const problems: string[] = [];
  const where = (name: string) => (scope ? `${scope}/${name}` : name);
  if (definition.QueryLanguage === 'JSONata')
    problems.push(`${scope || 'definition'}: JSONata is silently mis-run by the local engine`);
  const states = isRecord(definition.States) ? definition.States : {};
  for (const [name, state] of Object.entries(states)) {
    if (!isRecord(state)) continue;
    if (state.QueryLanguage === 'JSONata')
      problems.push(`${where(name)}: JSONata is silently mis-run by the local engine`);
    if (state.Assign !== undefined)
      problems.push(`${where(name)}: variables (Assign) are not supported locally`);
    for (const field of [
      'TimeoutSecondsPath',
      'HeartbeatSecondsPath',
      'SecondsPath',
      'TimestampPath',
      'Timestamp',
    ]) {
      if (state[field] !== undefined) problems.push(`${where(name)}: ${field} is not time-scaled locally`);
    }
    // The engine has no $$.Task.Token (the local cloud supplies it) and no $$.State.* values.
    for (const reference of contextReferences(state.Parameters)) {
      if (
        reference !== '$$.Task.Token' &&
        !reference.startsWith('$$.Execution.') &&
        !reference.startsWith('$$.StateMachine.')
      ) {
        problems.push(`${where(name)}: context value ${reference} is not available locally`);
      }
    }
    if (state.Type === 'Task') {
      const resource = typeof state.Resource === 'string' ? state.Resource : '';
      const isFunctionArn = /^arn:[^:]+:lambda:[^:]+:[^:]+:function:/.test(resource);
      if (!isFunctionArn && !SUPPORTED_INTEGRATIONS.includes(resource)) {
        problems.push(`${where(name)}: resource ${resource || '(none)'} has no local integration`);
      }
    }
    const children = [
      ...(Array.isArray(state.Branches) ? state.Branches : []),
      state.ItemProcessor,
      state.Iterator,
    ];
    for (const child of children)
      if (isRecord(child)) problems.push(...findLocallyUnsupported(child, where(name)));
  }
  return problems;
}
