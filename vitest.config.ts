import { defineConfig } from 'vitest/config';

/** The HTTP API's suite, run once more with the store on ClickHouse and PostgreSQL servers. */
const API_TESTS = 'packages/server/src/api/**/*.test.ts';

export default defineConfig({
  test: {
    // Installs the Debian packages that browser and Prometheus tests drive, when missing.
    globalSetup: ['./vitest.global-setup.ts'],
    // Integration tests start real servers and DuckDB files; keep the 2-core machine unsaturated.
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 60_000,
    projects: [
      { extends: true, test: { name: 'duckdb', include: ['packages/*/src/**/*.test.ts'] } },
      {
        extends: true,
        test: {
          name: 'clickhouse+postgres',
          include: [API_TESTS],
          // The harness (packages/server/src/test/harness.ts) starts both servers per test file.
          env: { VIGIL_TEST_ENGINE: 'clickhouse' },
        },
      },
    ],
  },
});
