import * as apigw from 'aws-cdk-lib/aws-apigateway';
import { Construct } from 'constructs';
import type { ApiService } from './access-config.js';

const SERVICE_NAME = /^[A-Za-z0-9-]{1,32}$/;

/** `checkout-eu` -> `CheckoutEu`: what a construct id and an output name may hold. */
export function pascalCase(name: string): string {
  return name
    .split('-')
    .map((part) => part.charAt(0).toUpperCase() + part.slice(1))
    .join('');
}

/** Names that cannot become distinct keys and outputs fail synth, not the deploy. */
export function checkServices(services: readonly ApiService[]): void {
  const seen = new Set<string>();
  for (const service of services) {
    if (!SERVICE_NAME.test(service.name))
      throw new Error(`apiAccess.services: "${service.name}" must be 1-32 of A-Za-z0-9-`);
    const id = pascalCase(service.name);
    if (seen.has(id)) throw new Error(`apiAccess.services: "${service.name}" is named twice`);
    seen.add(id);
    for (const field of ['rateLimit', 'burstLimit', 'quotaPerDay'] as const)
      if (!(service[field] > 0))
        throw new Error(`apiAccess.services: ${service.name}.${field} must be above 0`);
  }
}

/**
 * One API key and one usage plan per calling service, on the API's stage. The stage's throttling is shared by
 * every caller; a plan is one service's own, so a service that loops is refused with 429 before it spends what the
 * others need. CloudFormation generates each key's value: it never appears in the template or the outputs.
 */
export class ServiceUsagePlans extends Construct {
  readonly keys: { readonly service: ApiService; readonly key: apigw.IApiKey }[];

  constructor(scope: Construct, id: string, api: apigw.RestApi, services: readonly ApiService[]) {
    super(scope, id);
    checkServices(services);
    this.keys = services.map((service) => {
      const name = pascalCase(service.name);
      const key = api.addApiKey(`${name}Key`, {
        description: `order-saga service ${service.name}: send as x-api-key with its SigV4-signed requests`,
      });
      const plan = new apigw.UsagePlan(this, `${name}Plan`, {
        description: `order-saga service ${service.name}`,
        throttle: { rateLimit: service.rateLimit, burstLimit: service.burstLimit },
        quota: { limit: service.quotaPerDay, period: apigw.Period.DAY },
        apiStages: [{ api, stage: api.deploymentStage }],
      });
      plan.addApiKey(key);
      return { service, key };
    });
  }
}
