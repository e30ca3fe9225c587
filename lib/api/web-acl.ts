import type * as apigw from 'aws-cdk-lib/aws-apigateway';
import * as wafv2 from 'aws-cdk-lib/aws-wafv2';
import { Construct } from 'constructs';
import { MAX_BODY_BYTES } from '../../lambdas/orders-api/schemas.js';

export interface ApiWebAclProps {
  /** The stage the web ACL guards. */
  readonly stage: apigw.Stage;
  /** Requests one client IP may send per 5 minutes before the rate rule blocks it. */
  readonly requestsPerIpPer5Minutes: number;
  /** The metric names' prefix: two stages in one account keep their own. */
  readonly metricPrefix: string;
}

const visibility = (metricName: string) => ({
  cloudWatchMetricsEnabled: true,
  metricName,
  sampledRequestsEnabled: true,
});

/**
 * AWS WAF in front of the API stage, where requests are refused before API Gateway bills them or a function
 * runs: per-IP rate (the stage's and the plans' throttles count every caller together, so one address could spend
 * them all), bodies above what the API accepts, and AWS's common rule set.
 */
export class ApiWebAcl extends Construct {
  readonly webAcl: wafv2.CfnWebACL;

  constructor(scope: Construct, id: string, props: ApiWebAclProps) {
    super(scope, id);
    const metric = (name: string) => `${props.metricPrefix}-${name}`;
    this.webAcl = new wafv2.CfnWebACL(this, 'WebAcl', {
      scope: 'REGIONAL',
      defaultAction: { allow: {} },
      visibilityConfig: visibility(metric('api')),
      // API Gateway's default body inspection is 16 KB: exactly MAX_BODY_BYTES, stated so a change of either shows.
      associationConfig: { requestBody: { API_GATEWAY: { defaultSizeInspectionLimit: 'KB_16' } } },
      rules: [
        {
          name: 'RatePerIp',
          priority: 0,
          action: { block: {} },
          statement: {
            rateBasedStatement: { aggregateKeyType: 'IP', limit: props.requestsPerIpPer5Minutes },
          },
          visibilityConfig: visibility(metric('rate-per-ip')),
        },
        {
          name: 'BodyTooLarge',
          priority: 1,
          action: { block: {} },
          statement: {
            sizeConstraintStatement: {
              // A body past the inspection limit matches too, so nothing too large slips past unread.
              fieldToMatch: { body: { oversizeHandling: 'MATCH' } },
              comparisonOperator: 'GT',
              size: MAX_BODY_BYTES,
              textTransformations: [{ priority: 0, type: 'NONE' }],
            },
          },
          visibilityConfig: visibility(metric('body-too-large')),
        },
        {
          name: 'AwsCommonRuleSet',
          priority: 2,
          overrideAction: { none: {} },
          statement: {
            managedRuleGroupStatement: {
              vendorName: 'AWS',
              name: 'AWSManagedRulesCommonRuleSet',
              // Its 8 KB body limit would refuse orders the API accepts: BodyTooLarge holds the API's own limit.
              ruleActionOverrides: [{ name: 'SizeRestrictions_BODY', actionToUse: { count: {} } }],
            },
          },
          visibilityConfig: visibility(metric('common-rule-set')),
        },
      ],
    });
    new wafv2.CfnWebACLAssociation(this, 'Association', {
      resourceArn: props.stage.stageArn,
      webAclArn: this.webAcl.attrArn,
    });
  }
}
