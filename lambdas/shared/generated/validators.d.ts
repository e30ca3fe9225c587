// Types of the generated validators beside this file (see scripts/validators-source.ts).
import type { ErrorObject } from 'ajv';

export interface GeneratedValidator {
  (data: unknown): boolean;
  errors?: ErrorObject[] | null;
}

export declare const validateCreateOrder: GeneratedValidator;
export declare const validateReconcileRequest: GeneratedValidator;
export declare const validateOrderLines: GeneratedValidator;
export declare const validateShippingAddress: GeneratedValidator;
