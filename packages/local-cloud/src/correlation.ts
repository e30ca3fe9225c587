/**
 * What a payload is about, as the app that runs on the local cloud tells it: a step input, a queue message
 * (`{ Records: [{ body }] }`), a stream record (`{ Records: [{ dynamodb }] }`), an API path
 * (`{ pathParameters }`) or response body. The trace groups lines by it and a fault can target it.
 * The local cloud knows nothing of the app's data: without one, nothing is correlated.
 */
export type CorrelationIdOf = (payload: unknown) => string | undefined;

export const noCorrelation: CorrelationIdOf = () => undefined;
