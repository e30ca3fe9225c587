import type { RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as kms from 'aws-cdk-lib/aws-kms';
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
  /**
   * The key of the personal data the table holds (a DataKey: functions bound with useTable get it through
   * DynamoDB only). Its stream is encrypted with it too.
   * @default a key AWS manages, which every principal allowed DynamoDB in the account may use
   */
  readonly encryptionKey?: kms.IKey;
}

/**
 * A service-owned table with the defaults every service needs: generic `pk`/`sk` keys so business rows
 * and barrier rows share the table (one transaction can then cover both), on-demand capacity, point-in-time
 * recovery, KMS encryption (a customer-managed key for personal data, else one AWS manages), TTL for barrier
 * rows, and the stage's removal policy and deletion protection.
 */
export class ServiceTable extends dynamodb.Table {
  constructor(scope: Construct, id: string, props: ServiceTableProps = {}) {
    const stage = stageOf(scope);
    super(scope, id, {
      partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
      sortKey: { name: 'sk', type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      ...(props.encryptionKey
        ? { encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED, encryptionKey: props.encryptionKey }
        : { encryption: dynamodb.TableEncryption.AWS_MANAGED }),
      timeToLiveAttribute: TTL_ATTRIBUTE,
      removalPolicy: props.removalPolicy ?? stage.tableRemovalPolicy,
      deletionProtection: stage.tableDeletionProtection,
      stream: props.stream,
    });
  }
}
