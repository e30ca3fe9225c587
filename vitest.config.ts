import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          setupFiles: ['test/unit/setup.ts'],
        },
      },
      {
        test: {
          name: 'infra',
          include: ['test/infra/**/*.test.ts'],
          // Synthesizing the stack takes seconds; one synth per file is shared by its tests.
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
      {
        test: {
          name: 'emulators',
          include: ['packages/local-cloud/test/**/*.test.ts', 'test/emulators/**/*.test.ts'],
          // Each file boots the emulator it tests (DynamoDB Local takes a few seconds).
          testTimeout: 30_000,
          hookTimeout: 60_000,
        },
      },
      {
        test: {
          name: 'local',
          // The fault matrix and the randomized schedules share the layer's one local cloud.
          include: ['test/local/**/*.test.ts', 'test/faults/**/*.test.ts', 'test/load/**/*.test.ts'],
          // One local cloud for the whole layer: booted once, shared by every file, files run one at a time.
          globalSetup: ['test/local/global-setup.ts'],
          fileParallelism: false,
          // Cells of the fault matrix run side by side, each on its own order, SKU and customer.
          maxConcurrency: 8,
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
      {
        test: {
          name: 'e2e',
          // E2E_TARGET picks the deployment (local by default: a local cloud of the suite's own, SigV4 on).
          include: ['test/e2e/**/*.test.ts'],
          fileParallelism: false,
          maxConcurrency: 8,
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
