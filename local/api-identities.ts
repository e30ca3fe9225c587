import type { ApiIdentity } from '@order-saga/local-cloud';

/**
 * The local API's callers under `npm start -- --sigv4`: fixed, published test keys (they open nothing but this
 * machine's local cloud), one per policy the stack exports, so the client/operator split is the deployed one.
 */
export const LOCAL_API_IDENTITIES = {
  client: {
    name: 'local-client',
    accessKeyId: 'AKIALOCALCLIENT00001',
    secretAccessKey: 'local-client-secret',
    policyOutputs: ['ClientPolicyArn'],
  },
  operator: {
    name: 'local-operator',
    accessKeyId: 'AKIALOCALOPERATOR001',
    secretAccessKey: 'local-operator-secret',
    policyOutputs: ['OperatorPolicyArn'],
  },
} as const satisfies Record<string, ApiIdentity>;

export const localApiIdentities = (): ApiIdentity[] =>
  Object.values(LOCAL_API_IDENTITIES).map((identity) => ({
    ...identity,
    policyOutputs: [...identity.policyOutputs],
  }));
