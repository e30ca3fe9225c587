import { findJsonataAndVariables, type QueryLanguageFeature } from './query-language.js';
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

const RETRY_COUNT = '$$.State.RetryCount';

/**
 * The context values a state's parameters read. A Task's `"x.$": "$$.State.RetryCount"` is left out: the local
 * engine fills in that whole value (stepfunctions/definition.ts), though not a reference inside an intrinsic.
 */
function contextReferences(value: unknown, inTask: boolean): string[] {
  if (typeof value === 'string') return value.match(/\$\$\.[A-Za-z.]+/g) ?? [];
  if (Array.isArray(value)) return value.flatMap((item) => contextReferences(item, inTask));
  if (isRecord(value))
    return Object.entries(value).flatMap(([key, item]) =>
      inTask && key.endsWith('.$') && item === RETRY_COUNT ? [] : contextReferences(item, inTask),
    );
  return [];
}

const QUERY_LANGUAGE_PROBLEMS: Record<QueryLanguageFeature, string> = {
  JSONata: 'JSONata is silently mis-run by the local engine',
  Assign: 'variables (Assign) are not supported locally',
  Arguments: 'Arguments (JSONata) is not supported locally',
  Output: 'Output (JSONata) is not supported locally',
};

export function findLocallyUnsupported(definition: Json): string[] {
  return [
    ...findJsonataAndVariables(definition).map(
      ({ where, feature }) => `${where}: ${QUERY_LANGUAGE_PROBLEMS[feature]}`,
    ),
    ...findUnscaledOrUnavailable(definition),
  ];
}

/** Everything but JSONata and variables: unscaled time fields, missing context values, unknown integrations. */
function findUnscaledOrUnavailable(definition: Json, scope = ''): string[] {
  const problems: string[] = [];
  const where = (name: string) => (scope ? `${scope}/${name}` : name);
  const states = isRecord(definition.States) ? definition.States : {};
  for (const [name, state] of Object.entries(states)) {
    if (!isRecord(state)) continue;
    for (const field of [
      'TimeoutSecondsPath',
      'HeartbeatSecondsPath',
      'SecondsPath',
      'TimestampPath',
      'Timestamp',
    ]) {
      if (state[field] !== undefined) problems.push(`${where(name)}: ${field} is not time-scaled locally`);
    }
    // The engine has no $$.Task.Token nor $$.State.* values; the local cloud supplies the token and the retry count.
    for (const reference of contextReferences(state.Parameters, state.Type === 'Task')) {
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
      if (isRecord(child)) problems.push(...findUnscaledOrUnavailable(child, where(name)));
  }
  return problems;
}
