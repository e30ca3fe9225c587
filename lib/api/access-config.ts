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
}

/** A pool of the stack's own, and the customer named by the token's subject. */
export const DEFAULT_API_ACCESS: ApiAccessConfig = { userPool: 'create', customerClaim: 'sub' };
