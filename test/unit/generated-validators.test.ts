import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { orderLinesField, shippingAddressField } from '../../lambdas/shared/step-input.js';
import { GENERATED_VALIDATORS, validatorsSource } from '../../scripts/validators-source.js';

describe('generated validators', () => {
  it('are generated from the current API schema: regenerate with npm run generate:validators', () => {
    expect(readFileSync(GENERATED_VALIDATORS, 'utf8')).toBe(validatorsSource());
  });

  it('refuse what the API refuses, naming every problem', () => {
    expect(() =>
      shippingAddressField(
        { a: { line1: '1 Main St', city: '', postalCode: '1', country: 'us', floor: 3 } },
        'a',
      ),
    ).toThrow(/a\/city must NOT have fewer than 1 characters.*a\/country must match pattern/);
    expect(() => orderLinesField({ items: [{ sku: 'S', quantity: 101 }] }, 'items')).toThrow(
      expect.objectContaining({ name: 'InvalidStepInput', message: 'items/0/quantity must be <= 100' }),
    );
  });

  it('take the lines of an order placed before the per-line cap: its saga may start or unwind on this release', () => {
    // The API now refuses 51 units a line; a step must still take the 100 an earlier release accepted.
    expect(orderLinesField({ items: [{ sku: 'S', quantity: 100 }] }, 'items')).toEqual([
      { sku: 'S', quantity: 100 },
    ]);
  });

  it('keep every field the API accepted, line2 included', () => {
    const address = {
      line1: '1 Main St',
      line2: 'Apt 4',
      city: 'Springfield',
      postalCode: '1',
      country: 'US',
    };
    expect(shippingAddressField({ address }, 'address')).toEqual(address);
  });

  it('refuse a repeated sku, which no single item shows', () => {
    const items = [
      { sku: 'S', quantity: 1 },
      { sku: 'S', quantity: 2 },
    ];
    expect(() => orderLinesField({ items }, 'items')).toThrow('items repeats a sku');
  });
});
