import { randomUUID } from 'node:crypto';
import type { HttpResponse } from './api-gateway.js';
import { type CfnTemplate, isRecord, resourcesOfType } from './template.js';

interface GatewayResponse {
  status: number;
  template?: string;
  headers: Record<string, string>;
}

/** The template's gateway responses: how API Gateway renders the errors it answers itself. */
export class GatewayResponses {
  private readonly byType = new Map<string, GatewayResponse>();

  constructor(template: CfnTemplate) {
    for (const [, response] of resourcesOfType(template, 'AWS::ApiGateway::GatewayResponse')) {
      const properties = response.Properties ?? {};
      const templates = isRecord(properties.ResponseTemplates) ? properties.ResponseTemplates : {};
      const parameters = isRecord(properties.ResponseParameters) ? properties.ResponseParameters : {};
      this.byType.set(String(properties.ResponseType), {
        status: Number(properties.StatusCode ?? 0),
        template:
          typeof templates['application/json'] === 'string' ? templates['application/json'] : undefined,
        // Static values only ("'1'"), which is what a CDK app's responseHeaders become.
        headers: Object.fromEntries(
          Object.entries(parameters).map(([name, value]) => [
            name.replace(/^gatewayresponse\.header\./, '').toLowerCase(),
            String(value).replace(/^'|'$/g, ''),
          ]),
        ),
      });
    }
  }

  /** An error API Gateway answers itself, rendered through the template's gateway response when it has one. */
  error(
    type: string,
    defaultStatus: number,
    message: string,
    validation = '',
    requestId = randomUUID(),
    errorType = type,
  ): HttpResponse {
    const own = this.byType.get(type);
    const configured = own ?? this.byType.get(defaultStatus >= 500 ? 'DEFAULT_5XX' : 'DEFAULT_4XX');
    const body = configured?.template
      ? configured.template
          .replaceAll('$context.error.messageString', JSON.stringify(message))
          .replaceAll('$context.error.validationErrorString', JSON.stringify(validation).slice(1, -1))
          .replaceAll('$context.requestId', requestId)
      : JSON.stringify({ message });
    return {
      status: own?.status || defaultStatus,
      headers: {
        ...own?.headers,
        'content-type': 'application/json',
        'x-amzn-requestid': requestId,
        'x-amzn-errortype': errorType,
      },
      body,
    };
  }
}
