import type { RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type { Construct } from 'constructs';
import { stageOf } from '../stages.js';

/** The TTL attribute every service table expires barrier rows by. */
export const TTL_ATTRIBUTE = 'expiresAt';

export interface ServiceTableProps {
  /**
   * Keep the table (and its data) when the stack is deleted.
   * @default the stage's tableRemovalPolicy
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * Stream settings, for tables whose changes feed other services.
   * @default no stream
   */
  readonly stream?: dynamodb.StreamViewType;
}

/**
 * A service-owned table with the defaults every service needs: generic `pk`/`sk` keys so business rows
 * and barrier rows share the table (one transaction can then cover both), on-demand capacity, point-in-time
 * recovery, a customer-visible KMS key managed by AWS, and TTL for barrier rows.
 */
export class ServiceTable extends dynamodb.Table {
  constructor(scope: Construct, id: string, props: ServiceTableProps = {}) {
    const stage = stageOf(scope);
    super(scope, id, {
      partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
      sortKey: { name: 'sk', type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      timeToLiveAttribute: TTL_ATTRIBUTE,
      removalPolicy: props.removalPolicy ?? stage.tableRemovalPolicy,
      deletionProtection: stage.tableDeletionProtection,
      stream: props.stream,
    });
  }
}
