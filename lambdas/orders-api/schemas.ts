import type { FromSchema } from 'json-schema-to-ts';

/**
 * The API's request schemas: the one source the API Gateway models, the handler's runtime validation and
 * contract/openapi.yaml are built from or checked against. JSON Schema kept to the subset that draft 4
 * (API Gateway) and draft 7 (Ajv) read the same way.
 */

/** Printable text: no control characters (they break logs, labels and carriers' systems). */
const PRINTABLE = '^[^\\u0000-\\u001F\\u007F]+$';
/** Identifiers travel into keys and execution names: a conservative alphabet. */
const IDENTIFIER = '^[A-Za-z0-9_-]+$';

export const IDEMPOTENCY_KEY_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
export const IDEMPOTENCY_KEY_HEADER = 'Idempotency-Key';
/** Larger bodies are refused with 413 before parsing; a maximal valid order is far below this. */
export const MAX_BODY_BYTES = 16 * 1024;
export const MAX_ITEMS = 20;
/**
 * Units one line and one order may hold while the saga runs: stock is reserved before payment is tried, so
 * these bound what an order can hold without paying (20 x 100 = 2,000 units before they existed).
 */
export const MAX_QUANTITY = 50;
export const MAX_UNITS_PER_ORDER = 100;
/**
 * The most units of a line any release has accepted (100, before MAX_QUANTITY). The steps check lines against
 * this, not the API's current cap: an order placed on an earlier release may still have its saga started,
 * redriven, unwound or completed on this one, and must not fail as InvalidStepInput for a limit it predates.
 */
export const MAX_QUANTITY_EVER_ACCEPTED = 100;

export const createOrderRequestSchema = {
  title: 'CreateOrderRequest',
  type: 'object',
  additionalProperties: false,
  required: ['customerId', 'items', 'shippingAddress'],
  properties: {
    customerId: { type: 'string', minLength: 1, maxLength: 64, pattern: IDENTIFIER },
    items: {
      type: 'array',
      minItems: 1,
      maxItems: MAX_ITEMS,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['sku', 'quantity'],
        properties: {
          sku: { type: 'string', minLength: 1, maxLength: 64, pattern: IDENTIFIER },
          quantity: { type: 'integer', minimum: 1, maximum: MAX_QUANTITY },
        },
      },
    },
    shippingAddress: {
      type: 'object',
      additionalProperties: false,
      required: ['line1', 'city', 'postalCode', 'country'],
      properties: {
        line1: { type: 'string', minLength: 1, maxLength: 200, pattern: PRINTABLE },
        line2: { type: 'string', maxLength: 200, pattern: '^[^\\u0000-\\u001F\\u007F]*$' },
        city: { type: 'string', minLength: 1, maxLength: 100, pattern: PRINTABLE },
        postalCode: { type: 'string', minLength: 1, maxLength: 20, pattern: PRINTABLE },
        country: { type: 'string', minLength: 2, maxLength: 2, pattern: '^[A-Z]{2}$' },
      },
    },
  },
} as const;

/** An operator's action on an order (POST /orders/{orderId}/reconcile); without a body reconcile only aligns. */
export const reconcileRequestSchema = {
  title: 'ReconcileRequest',
  type: 'object',
  additionalProperties: false,
  required: ['action', 'reason'],
  properties: {
    action: { type: 'string', enum: ['redrive', 'cancel', 'complete'] },
    reason: { type: 'string', minLength: 1, maxLength: 500, pattern: PRINTABLE },
  },
} as const;

export type ReconcileRequestBody = FromSchema<typeof reconcileRequestSchema>;

/** The order request as the schema defines it: derived, so the type and the validation cannot drift. */
export type CreateOrderRequest = FromSchema<typeof createOrderRequestSchema>;

/** Order ids are derived, never chosen by clients: `ord_` and 32 hex digits. */
export const ORDER_ID_PATTERN = /^ord_[0-9a-f]{32}$/;
