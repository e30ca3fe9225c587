/** The order-id key the unit tests' Secrets Manager answers with (setup.ts): ids here are derived with it. */
export const TEST_ORDER_ID_KEY = 'unit-test-order-id-key-0123456789abcdef';
