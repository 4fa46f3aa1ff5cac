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

describe('the store seam', () => {
  it('no engine driver is imported outside store/', () => {
    const drivers =
      /from '(@duckdb\/node-api|@duckdb\/node-bindings|pg|@clickhouse\/client)'|import\('(@duckdb\/node-api|@duckdb\/node-bindings|pg)'\)/;
    const found = sources(src)
      .map((f) => relative(src, f).replaceAll('\\', '/'))
      .filter((f) => !f.startsWith('store/'))
      .filter((f) => drivers.test(readFileSync(join(src, f), 'utf8')));
    expect(found).toEqual([]);
  });
});
