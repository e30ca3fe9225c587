/** A service that calls the IAM routes, with its own API key and usage plan. */
export interface ApiService {
  /** Names its key, plan and output (`ApiKeyId<Name>`): 1-32 of A-Za-z0-9-, unique in the stage. */
  readonly name: string;
  /** Its steady requests per second, whatever the stage as a whole allows. */
  readonly rateLimit: number;
  /** The burst it may send above its rate. */
  readonly burstLimit: number;
  /** Requests per UTC day before API Gateway answers 429 until the next day. */
  readonly quotaPerDay: number;
}

/** Who may call the orders API; part of each stage's configuration (lib/stages.ts). */
export interface ApiAccessConfig {
  /**
   * The Cognito user pool whose ID tokens the customer routes (/customer/orders...) accept: `'create'` makes
   * one in the stack; `{ userPoolId }` names an existing pool (`us-east-1_AbC123`) in the stack's account.
   */
  readonly userPool: 'create' | { readonly userPoolId: string };
  /**
   * The token claim that names the customer (`sub`, or a custom attribute such as `custom:customer_id`). Its
   * value must be a customer id (1-64 of A-Za-z0-9_-); a token without it is refused with 403.
   */
  readonly customerClaim: string;
  /**
   * IAM principals that may place and read orders on /orders with SigV4, as `aws:PrincipalArn` names them
   * (role ARNs, not session ARNs; `*` wildcards allowed). Omitted: any principal of the stack's account whose
   * own policies grant the route (the exported ClientPolicy or OperatorPolicy), as before this setting existed.
   */
  readonly clients?: readonly string[];
  /** Principals that may also reconcile (align, redrive, cancel, complete); they may always place and read. */
  readonly operators?: readonly string[];
  /**
   * The services calling /orders...: each gets an API key (sent as `x-api-key`) and a usage plan, and those
   * routes then refuse a request without a key of the stage with 403. Keys identify and meter a service, SigV4
   * still authenticates it. Omitted or empty: no key is required and only the stage's throttling applies.
   */
  readonly services?: readonly ApiService[];
}

/** A pool of the stack's own, and the customer named by the token's subject. */
export const DEFAULT_API_ACCESS: ApiAccessConfig = { userPool: 'create', customerClaim: 'sub' };
