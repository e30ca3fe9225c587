import type { ErrorObject } from 'ajv';
import {
  type GeneratedValidator,
  validateCreateOrder,
  validateReconcileRequest,
} from '../shared/generated/validators.js';
import { ApiError } from './http.js';
import {
  type CreateOrderRequest,
  MAX_BODY_BYTES,
  MAX_UNITS_PER_ORDER,
  type ReconcileRequestBody,
} from './schemas.js';

export interface ValidationDetail {
  path: string;
  message: string;
}

/** Each problem at the path of the field it concerns: an unknown or missing field names itself. */
function detailOf(error: ErrorObject): ValidationDetail {
  if (error.keyword === 'additionalProperties') {
    const field = String(error.params.additionalProperty);
    return { path: `${error.instancePath}/${field}`, message: `unknown field "${field}"` };
  }
  if (error.keyword === 'required') {
    const field = String(error.params.missingProperty);
    return { path: `${error.instancePath}/${field}`, message: `missing field "${field}"` };
  }
  return { path: error.instancePath || '/', message: error.message ?? error.keyword };
}

/** Lone surrogates survive JSON.parse but are not text: they cannot be stored or printed faithfully. */
function malformedStrings(value: unknown, path = ''): ValidationDetail[] {
  if (typeof value === 'string')
    return value.isWellFormed() ? [] : [{ path: path || '/', message: 'is not well-formed Unicode' }];
  if (Array.isArray(value)) return value.flatMap((item, index) => malformedStrings(item, `${path}/${index}`));
  if (typeof value === 'object' && value !== null) {
    return Object.entries(value).flatMap(([key, item]) => malformedStrings(item, `${path}/${key}`));
  }
  return [];
}

/** Parses a JSON body and validates it with `validate`, or throws the 4xx that names the problem. */
function parseJsonBody<T>(
  body: string,
  contentType: string | undefined,
  validate: GeneratedValidator,
  what: string,
): T {
  const mediaType = contentType?.split(';')[0]?.trim().toLowerCase();
  if (mediaType !== 'application/json') {
    throw new ApiError(415, 'UnsupportedMediaType', `Send the ${what} as application/json`);
  }
  if (Buffer.byteLength(body, 'utf8') > MAX_BODY_BYTES) {
    throw new ApiError(413, 'PayloadTooLarge', `The body exceeds ${MAX_BODY_BYTES} bytes`);
  }
  let document: unknown;
  try {
    document = JSON.parse(body);
  } catch {
    throw new ApiError(400, 'MalformedJson', 'The body is not valid JSON');
  }
  const unicodeProblems = malformedStrings(document);
  if (unicodeProblems.length > 0)
    throw new ApiError(400, 'ValidationFailed', `The ${what} is not valid`, unicodeProblems);
  if (!validate(document)) {
    throw new ApiError(
      400,
      'ValidationFailed',
      `The ${what} is not valid`,
      (validate.errors ?? []).map(detailOf),
    );
  }
  return document as T;
}

/** Parses and validates a POST /orders body, or throws the 4xx that names the problem. */
export function parseCreateOrder(body: string, contentType: string | undefined): CreateOrderRequest {
  const document = parseJsonBody<CreateOrderRequest>(body, contentType, validateCreateOrder, 'order');
  const seen = new Map<string, number>();
  const duplicates = document.items.flatMap((item, index) => {
    const first = seen.get(item.sku);
    seen.set(item.sku, first ?? index);
    return first === undefined
      ? []
      : [{ path: `/items/${index}/sku`, message: `repeats the sku of /items/${first}` }];
  });
  if (duplicates.length > 0)
    throw new ApiError(400, 'ValidationFailed', 'The order is not valid', duplicates);
  // A sum JSON Schema cannot express. No retry can make it pass, so it is bad input (400), never a 429.
  const units = document.items.reduce((sum, item) => sum + item.quantity, 0);
  if (units > MAX_UNITS_PER_ORDER)
    throw new ApiError(400, 'ValidationFailed', 'The order is not valid', [
      { path: '/items', message: `hold ${units} units; an order holds at most ${MAX_UNITS_PER_ORDER}` },
    ]);
  return document;
}

/** A reconcile body: none means align; otherwise an operator's action with its reason. */
export function parseReconcileRequest(
  body: string,
  contentType: string | undefined,
): ReconcileRequestBody | undefined {
  if (body.trim() === '') return undefined;
  const request = parseJsonBody<ReconcileRequestBody>(
    body,
    contentType,
    validateReconcileRequest,
    'reconcile request',
  );
  if (request.reason.trim() === '')
    throw new ApiError(400, 'ValidationFailed', 'The reconcile request is not valid', [
      { path: '/reason', message: 'must say why' },
    ]);
  return request;
}
