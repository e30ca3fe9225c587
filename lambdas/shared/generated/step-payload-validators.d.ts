// Types of the generated validators beside this file (see scripts/step-validators-source.ts).
import type { ErrorObject } from 'ajv';

export interface GeneratedValidator {
  (data: unknown): boolean;
  errors?: ErrorObject[] | null;
}

export declare const validateOrderLines: GeneratedValidator;
export declare const validateShippingAddress: GeneratedValidator;
