import { readFileSync } from 'node:fs';
import { isRecord } from '@order-saga/local-cloud';
import { stockRow } from '../lambdas/inventory/inventory.js';
import { accountRow } from '../lambdas/payments/payments.js';

export interface Seed {
  inventory: { sku: string; stock: number; priceCents: number }[];
  accounts: { customerId: string; balanceCents: number }[];
}

/** What `npm start` loads without --seed: enough stock and money to try every outcome by hand. */
export const DEMO_SEED: Seed = {
  inventory: [
    { sku: 'SKU-1', stock: 100, priceCents: 1299 },
    { sku: 'SKU-2', stock: 50, priceCents: 2500 },
    { sku: 'SKU-3', stock: 10, priceCents: 9900 },
    { sku: 'SKU-RARE', stock: 1, priceCents: 50000 },
  ],
  accounts: [
    { customerId: 'c-1', balanceCents: 1_000_000 },
    { customerId: 'c-2', balanceCents: 5_000 },
    { customerId: 'c-broke', balanceCents: 0 },
  ],
};

function nonNegativeInt(value: unknown, where: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new Error(`${where} must be a non-negative integer`);
  }
  return value;
}

function nonEmptyString(value: unknown, where: string): string {
  if (typeof value !== 'string' || value.trim() === '')
    throw new Error(`${where} must be a non-empty string`);
  return value;
}

function list(value: unknown, where: string): unknown[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw new Error(`${where} must be an array`);
  return value;
}

/** Validates a seed document, naming the first problem by its path. */
export function parseSeed(document: unknown, source = 'seed'): Seed {
  if (!isRecord(document))
    throw new Error(`${source}: must be a JSON object with "inventory" and "accounts"`);
  const unknownKeys = Object.keys(document).filter((key) => key !== 'inventory' && key !== 'accounts');
  if (unknownKeys.length > 0) throw new Error(`${source}: unknown key(s) ${unknownKeys.join(', ')}`);
  const inventory = list(document.inventory, `${source}.inventory`).map((entry, index) => {
    const where = `${source}.inventory[${index}]`;
    if (!isRecord(entry)) throw new Error(`${where} must be an object`);
    return {
      sku: nonEmptyString(entry.sku, `${where}.sku`),
      stock: nonNegativeInt(entry.stock, `${where}.stock`),
      priceCents: nonNegativeInt(entry.priceCents, `${where}.priceCents`),
    };
  });
  const accounts = list(document.accounts, `${source}.accounts`).map((entry, index) => {
    const where = `${source}.accounts[${index}]`;
    if (!isRecord(entry)) throw new Error(`${where} must be an object`);
    return {
      customerId: nonEmptyString(entry.customerId, `${where}.customerId`),
      balanceCents: nonNegativeInt(entry.balanceCents, `${where}.balanceCents`),
    };
  });
  return { inventory, accounts };
}

export function loadSeedFile(file: string): Seed {
  let document: unknown;
  try {
    document = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new Error(`Cannot read seed file ${file}: ${(error as Error).message}`);
  }
  return parseSeed(document, file);
}

/** The rows a seed becomes, per table: the services' own row builders keep the key schema in one place. */
export function seedRows(seed: Seed): { inventory: object[]; payments: object[] } {
  return {
    inventory: seed.inventory.map((item) => stockRow(item.sku, item.stock, item.priceCents)),
    payments: seed.accounts.map((account) => accountRow(account.customerId, account.balanceCents)),
  };
}
