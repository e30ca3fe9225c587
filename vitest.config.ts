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
    ],
  },
});
