import { CfnOutput, Duration, Stack } from 'aws-cdk-lib';
import * as apigw from 'aws-cdk-lib/aws-apigateway';
import * as cognito from 'aws-cdk-lib/aws-cognito';
import { Construct } from 'constructs';
import { stageOf } from '../stages.js';
import type { ApiAccessConfig } from './access-config.js';

/**
 * The customers' identities: the stage's Cognito user pool (created here, or an existing one) and the
 * authorizer that lets a customer's ID token through to the customer routes.
 */
export class CustomerAuth extends Construct {
  readonly userPool: cognito.IUserPool;
  readonly authorizer: apigw.CognitoUserPoolsAuthorizer;

  constructor(scope: Construct, id: string, config: ApiAccessConfig) {
    super(scope, id);
    const stage = stageOf(this);
    if (config.userPool === 'create') {
      const pool = new cognito.UserPool(this, 'UserPool', {
        // Customers are created by the shop's sign-up service (AdminCreateUser), which decides who is a customer.
        selfSignUpEnabled: false,
        signInAliases: { email: true },
        passwordPolicy: {
          minLength: 12,
          requireLowercase: true,
          requireUppercase: true,
          requireDigits: true,
          requireSymbols: true,
        },
        // A token places orders and reads addresses: a password alone is not enough to get one.
        mfa: cognito.Mfa.REQUIRED,
        mfaSecondFactor: { otp: true, sms: false },
        // Threat protection (compromised credentials, risky sign-ins) is billed per active user, not per pool.
        featurePlan: cognito.FeaturePlan.PLUS,
        standardThreatProtectionMode: cognito.StandardThreatProtectionMode.FULL_FUNCTION,
        accountRecovery: cognito.AccountRecovery.EMAIL_ONLY,
        // The customers are records like the orders that name them: they live as long as the tables.
        removalPolicy: stage.tableRemovalPolicy,
        deletionProtection: stage.tableDeletionProtection,
      });
      const client = pool.addClient('CustomerAppClient', {
        authFlows: { userSrp: true },
        generateSecret: false,
        preventUserExistenceErrors: true,
        idTokenValidity: Duration.hours(1),
        // A user may change the attributes an app client lets it write, with its own access token: none of the
        // customer's identity may be among them, or a customer could rename itself into another customer.
        writeAttributes: new cognito.ClientAttributes().withStandardAttributes({
          fullname: true,
          phoneNumber: true,
        }),
      });
      new CfnOutput(Stack.of(this), 'UserPoolId', { value: pool.userPoolId });
      new CfnOutput(Stack.of(this), 'UserPoolClientId', { value: client.userPoolClientId });
      this.userPool = pool;
    } else {
      this.userPool = cognito.UserPool.fromUserPoolId(this, 'UserPool', config.userPool.userPoolId);
    }
    this.authorizer = new apigw.CognitoUserPoolsAuthorizer(this, 'Authorizer', {
      cognitoUserPools: [this.userPool],
      identitySource: apigw.IdentitySource.header('Authorization'),
    });
  }
}
