import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const src = join(dirname(fileURLToPath(import.meta.url)), '..');

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

/** Files outside store/ allowed to name a driver: the test setups that start a real engine server. */
const ALLOWED = new Set(['test/postgres.ts', 'test/clickhouse.ts']);

describe('the store seam', () => {
  it('no engine driver is imported outside store/', () => {
    const drivers = /from '(@duckdb\/node-api|pg|@clickhouse\/client)'|import\('(@duckdb\/node-api|pg)'\)/;
    const found = sources(src)
      .map((f) => relative(src, f).replaceAll('\\', '/'))
      .filter((f) => !f.startsWith('store/') && !ALLOWED.has(f))
      .filter((f) => drivers.test(readFileSync(join(src, f), 'utf8')));
    expect(found).toEqual([]);
  });
});
