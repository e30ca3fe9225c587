/**
 * The local cloud: runs a synthesized AWS CDK app offline. See the package README.
 * Apps start it with startLocalCloud; the rest are the building blocks it is made of, for tests and tools.
 */
export { type ApiKeyRefusal, type LocalApiKey, LocalApiKeys } from './api-auth/api-keys.js';
export { type ApiAuthorizer, type ApiIdentity, createIamAuthorizer } from './api-auth/iam-authorizer.js';
export { type Claims, LocalTokenIssuer, type TokenCheck } from './api-auth/jwt.js';
export { type AuthRefusal, authenticate, type LocalIdentity, MAX_CLOCK_SKEW_MS } from './api-auth/sigv4.js';
export { type LocalUserPoolTokens, localUserPoolTokens } from './api-auth/user-pools.js';
export { DEFAULT_SYNTH_SOURCES } from './assembly.js';
export {
  type LocalCloud,
  type LocalCloudOptions,
  type LocalCloudResources,
  type LocalRouteHandler,
  startLocalCloud,
} from './cloud.js';
export { type CorrelationIdOf, correlateByField, noCorrelation } from './correlation.js';
export { type DynamoDbLocal, JavaMissingError, startDynamoDbLocal } from './dynamodb.js';
export {
  LOCAL_ENDPOINTS_FILE,
  type LocalEndpoints,
  publishLocalEndpoints,
  readLocalEndpoints,
} from './endpoints-file.js';
export {
  AWS_CALL_FAULT_MODES,
  CALLBACK_FAULT_MODES,
  FAULT_MODES,
  type FaultMode,
  type FaultTargetEntry,
  type FaultView,
  LAMBDA_FAULT_MODES,
} from './faults.js';
export {
  type IamDenial,
  type IamGrant,
  type IamReport,
  type IamRoleReport,
  unusedGrants,
} from './iam/enforcement.js';
export { type IamPolicy, type IsAllowedRequest, type IsAllowedResult, isAllowed } from './iam/evaluator.js';
export {
  findJsonataAndVariables,
  type QueryLanguageFeature,
  type QueryLanguageFinding,
} from './query-language.js';
export { createSqsClient, type SqsLocal, startSqsLocal } from './sqs.js';
export type { ExecutionStatus, HistoryEvent, LocalExecution } from './stepfunctions-engine.js';
export {
  type CfnTemplate,
  createResolveContext,
  isRecord,
  loadTemplate,
  type PhysicalNames,
  physicalNames,
  resolveStateMachineDefinition,
  resourcesOfType,
} from './template.js';
export { findLocallyUnsupported } from './unsupported-features.js';
