import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['packages/*/src/**/*.test.ts'],
    // Installs the Debian packages that browser and Prometheus tests drive, when missing.
    globalSetup: ['./vitest.global-setup.ts'],
    // Integration tests start real servers and DuckDB files; keep the 2-core machine unsaturated.
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
