import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { LOCAL_ENDPOINTS_FILE } from '@order-saga/local-cloud';
import { describe, expect, it } from 'vitest';
import { apiUrl } from './harness.js';

describe('the endpoints file', () => {
  it('is not the test cloud’s: only npm start publishes .local-cloud/endpoints.json', () => {
    const file = fileURLToPath(new URL(`../../${LOCAL_ENDPOINTS_FILE}`, import.meta.url));
    let published: { api?: string } | undefined;
    try {
      published = JSON.parse(readFileSync(file, 'utf8')) as { api?: string };
    } catch {
      // No npm start running beside the tests: nothing published, as it should be.
    }
    // When npm start runs beside the tests, the file still names it, not the local cloud the tests booted.
    expect(published?.api).not.toBe(apiUrl);
  });
});
