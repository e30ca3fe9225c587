import { InvalidStepInput } from './errors.js';
import {
  type GeneratedValidator,
  validateOrderLines,
  validateShippingAddress,
} from './generated/validators.js';

/**
 * Narrowing helpers for step payloads. The state machine shapes each payload, but a payload is still
 * untrusted data (a redrive, a hand-started execution): a bad one fails fast with a named error.
 */

export type JsonObject = Record<string, unknown>;

export interface OrderLine {
  sku: string;
  quantity: number;
}

export interface ShippingAddress {
  line1: string;
  /** Apartment, suite, floor: optional, but the carrier needs it whenever the customer gave it. */
  line2?: string;
  city: string;
  postalCode: string;
  country: string;
}

export interface StepFailure {
  Error?: string;
  Cause?: string;
}

export function asObject(value: unknown, what: string): JsonObject {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InvalidStepInput(`${what} must be an object`);
  }
  return value as JsonObject;
}

export function stringField(source: JsonObject, field: string): string {
  const value = source[field];
  if (typeof value !== 'string' || value.length === 0) {
    throw new InvalidStepInput(`${field} must be a non-empty string`);
  }
  return value;
}

export function positiveIntField(source: JsonObject, field: string): number {
  const value = source[field];
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) {
    throw new InvalidStepInput(`${field} must be a positive integer`);
  }
  return value;
}

/** Runs a validator generated from the API schema; a payload that fails it is refused with every problem named. */
function checked<T>(validate: GeneratedValidator, value: unknown, field: string): T {
  if (validate(value)) return value as T;
  const problems = (validate.errors ?? []).map(
    (error) => `${field}${error.instancePath} ${error.message ?? error.keyword}`,
  );
  throw new InvalidStepInput(problems.join('; '));
}

/** The order lines, checked as the API checked them. */
export function orderLinesField(source: JsonObject, field: string): OrderLine[] {
  const lines = checked<OrderLine[]>(validateOrderLines, source[field], field);
  // Two writes to one item in a single transaction are rejected by DynamoDB, and a repeated SKU is a caller bug.
  const skus = new Set(lines.map((line) => line.sku));
  if (skus.size !== lines.length) throw new InvalidStepInput(`${field} repeats a sku`);
  return lines;
}

/** The shipping address, every field the API accepted included, checked as the API checked it. */
export function shippingAddressField(source: JsonObject, field: string): ShippingAddress {
  return checked<ShippingAddress>(validateShippingAddress, source[field], field);
}

/** The `failures` map the saga's Catch clauses fill, keyed by the state that failed, in order. */
export function failuresField(source: JsonObject, field: string): Record<string, StepFailure> {
  const value = source[field];
  if (value === undefined) return {};
  const failures = asObject(value, field);
  return Object.fromEntries(
    Object.entries(failures).map(([state, failure]) => {
      const entry = asObject(failure, `${field}.${state}`);
      return [
        state,
        {
          Error: typeof entry.Error === 'string' ? entry.Error : undefined,
          Cause: typeof entry.Cause === 'string' ? entry.Cause : undefined,
        },
      ];
    }),
  );
}

/** Every step payload carries the saga's identity: the order id (also the execution name) and a trace id. */
export function sagaRef(event: unknown): { payload: JsonObject; orderId: string; traceId: string } {
  const payload = asObject(event, 'step input');
  return { payload, orderId: stringField(payload, 'orderId'), traceId: stringField(payload, 'traceId') };
}
