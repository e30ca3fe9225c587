import { Duration } from 'aws-cdk-lib';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';

/**
 * Transient failures worth retrying: a callback step's SQS errors (unreachable, or SQS's own throttling and
 * 5xx answers, which Step Functions reports as AmazonSQSException), Lambda's own service and
 * throttling errors, a function that ran past its timeout (Lambda reports it as `Sandbox.Timedout`, older
 * documentation as `Lambda.Unknown`, and an invocation the SDK gave up on as
 * `Lambda.ClientExecutionTimeoutException`; CDK's default retry misses all three), and the handlers'
 * `TransientError` (DynamoDB throttling is mapped to it; contention has its own policy below).
 */
export const DEFAULT_TRANSIENT_ERRORS: readonly string[] = [
  'SQS.SdkClientException',
  'SQS.AmazonSQSException',
  'Lambda.ServiceException',
  'Lambda.AWSLambdaException',
  'Lambda.SdkClientException',
  'Lambda.TooManyRequestsException',
  'Lambda.Unknown',
  'Lambda.ClientExecutionTimeoutException',
  'Sandbox.Timedout',
  'TransientError',
];

export interface SagaRetryPolicy {
  /** Attempts after the first. */
  readonly maxAttempts: number;
  readonly interval: Duration;
  readonly backoffRate: number;
  /** Caps the exponential growth so a long retry chain stays inside the saga's timeout. */
  readonly maxDelay: Duration;
}

/** Forward steps before the pivot: a few quick retries, then compensate. */
export const DEFAULT_FORWARD_RETRY: SagaRetryPolicy = {
  maxAttempts: 3,
  interval: Duration.seconds(1),
  backoffRate: 2,
  maxDelay: Duration.seconds(10),
};

/** Steps after the pivot cannot be undone, so they are retried far longer before a person is called. */
export const DEFAULT_POST_PIVOT_RETRY: SagaRetryPolicy = {
  maxAttempts: 8,
  interval: Duration.seconds(2),
  backoffRate: 2,
  maxDelay: Duration.seconds(60),
};

/** Compensations must eventually succeed: retried on every error, long, before escalation. */
export const DEFAULT_COMPENSATION_RETRY: SagaRetryPolicy = {
  maxAttempts: 8,
  interval: Duration.seconds(2),
  backoffRate: 2,
  maxDelay: Duration.seconds(60),
};

/**
 * Errors that mean another writer holds the same item right now (the handlers' `WriteConflict`). They are
 * retried before the transient policy applies, on a policy of their own.
 */
export const DEFAULT_CONTENTION_ERRORS: readonly string[] = ['WriteConflict'];

/**
 * Contention on a hot item clears as the other writers finish, so it is retried more often than a transient
 * fault and spread by full jitter; about 40 s at most, well inside a saga's timeout.
 */
export const DEFAULT_CONTENTION_RETRY: SagaRetryPolicy = {
  maxAttempts: 10,
  interval: Duration.seconds(1),
  backoffRate: 1.5,
  maxDelay: Duration.seconds(5),
};

export function retryProps(errors: readonly string[], policy: SagaRetryPolicy): sfn.RetryProps {
  return {
    errors: [...errors],
    maxAttempts: policy.maxAttempts,
    interval: policy.interval,
    backoffRate: policy.backoffRate,
    maxDelay: policy.maxDelay,
    jitterStrategy: sfn.JitterType.FULL,
  };
}
