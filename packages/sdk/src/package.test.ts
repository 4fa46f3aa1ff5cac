/**
 * The published shape of the package: ESM, CommonJS and types built by tsc, wired through
 * package.json `exports`, the browser build reaching only browser code, no runtime dependencies.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';

const pkgDir = resolve(import.meta.dirname, '..');
const repoRoot = resolve(pkgDir, '../..');
const pkg = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8')) as {
  dependencies?: Record<string, string>;
  exports: Record<string, unknown>;
  browser: Record<string, string>;
  main: string;
  module: string;
  types: string;
};

beforeAll(() => {
  // Incremental: a no-op when the root build is up to date.
  execFileSync(
    join(repoRoot, 'node_modules/.bin/tsc'),
    [
      '-b',
      'packages/sdk/tsconfig.json',
      'packages/sdk/tsconfig.cjs.json',
      'packages/sdk/tsconfig.cjs-type.json',
    ],
    { cwd: repoRoot, stdio: 'pipe' },
  );
}, 120_000);

function targets(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (typeof value === 'object' && value !== null) return Object.values(value).flatMap(targets);
  return [];
}

/** Relative and bare specifiers an emitted module imports (ESM `import`/`export … from`, CJS `require`). */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const patterns = [
    /(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]/g,
    /(?:^|\n)\s*import\s*['"]([^'"]+)['"]/g,
    /\brequire\(\s*['"]([^'"]+)['"]\s*\)/g,
  ];
  return patterns.flatMap((p) => [...text.matchAll(p)].map((m) => m[1]!));
}

/** Every module reachable from `entry`, with the package's `browser` field applied when asked. */
function graph(entry: string, browser: boolean): { files: Set<string>; external: Set<string> } {
  const files = new Set<string>();
  const external = new Set<string>();
  const swap = new Map(
    Object.entries(pkg.browser).map(([from, to]) => [resolve(pkgDir, from), resolve(pkgDir, to)]),
  );
  const visit = (file: string) => {
    const real = browser ? (swap.get(file) ?? file) : file;
    if (files.has(real)) return;
    files.add(real);
    for (const spec of importsOf(real)) {
      if (spec.startsWith('.')) visit(resolve(dirname(real), spec));
      else external.add(spec);
    }
  };
  visit(resolve(pkgDir, entry));
  return { files, external };
}

const node = (args: string[]) =>
  execFileSync(process.execPath, args, { cwd: repoRoot, encoding: 'utf8' }).trim();

describe('the @vigil/sdk package', () => {
  it('points every entry of package.json at a built file', () => {
    const all = [
      pkg.main,
      pkg.module,
      pkg.types,
      ...targets(pkg.exports),
      ...Object.keys(pkg.browser),
      ...Object.values(pkg.browser),
    ];
    for (const target of all) expect(existsSync(resolve(pkgDir, target)), target).toBe(true);
    expect(JSON.parse(readFileSync(join(pkgDir, 'dist/cjs/package.json'), 'utf8'))).toEqual({
      type: 'commonjs',
    });
  });

  it('loads as CommonJS with require() and as ESM with import, with the same API', () => {
    const script = (load: string) =>
      `${load}.then((m) => { const c = m.createClient({ endpoint: 'http://127.0.0.1:9', key: 'k', version: 'v', flushOnExit: false }); c.track('a.b'); return c.shutdown({ timeoutMs: 10 }).then((r) => console.log(JSON.stringify({ keys: Object.keys(m).sort(), r }))); })`;
    const cjs = node(['-e', script("Promise.resolve(require('@vigil/sdk'))")]);
    const esm = node(['--input-type=module', '-e', script("import('@vigil/sdk')")]);
    expect(JSON.parse(cjs)).toEqual(JSON.parse(esm));
    expect(JSON.parse(cjs).keys).toContain('createClient');
    expect(JSON.parse(cjs).r).toEqual({ sent: 0, dropped: 0, failed: 0, pending: 1 });
    expect(node(['-p', "require.resolve('@vigil/sdk')"])).toBe(resolve(pkgDir, 'dist/cjs/index.js'));
    expect(node(['--input-type=module', '-e', "console.log(import.meta.resolve('@vigil/sdk'))"])).toBe(
      `file://${resolve(pkgDir, 'dist/esm/index.js')}`,
    );
  });

  it('gives browsers a module graph with the browser platform and nothing from Node', () => {
    const browserEntry = (pkg.exports['.'] as { browser: { default: string } }).browser.default;
    const web = graph(browserEntry, true);
    expect([...web.external]).toEqual([]);
    expect(web.files).toContain(resolve(pkgDir, 'dist/esm/platform/browser/index.js'));
    expect([...web.files].some((f) => f.includes('/platform/node/'))).toBe(false);

    const server = graph(pkg.module, false);
    expect(server.files).toContain(resolve(pkgDir, 'dist/esm/platform/node/index.js'));
    expect([...server.external].sort()).toEqual(['node:http', 'node:https', 'node:zlib']);
  });

  it('has no runtime dependencies', () => {
    expect(pkg.dependencies ?? {}).toEqual({});
    const cjs = graph(pkg.main, false);
    expect(cjs.files.size).toBeGreaterThan(10);
    expect([...cjs.external].sort()).toEqual(['node:http', 'node:https', 'node:zlib']);
  });
});
