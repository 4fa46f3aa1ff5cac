// The SDK as one ES module for browsers without a bundler, served at /sdk/vigil-sdk.js
// (docs/sdk.md). Built by scripts/prepare.mjs from the tsc output in packages/sdk/dist/esm.
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { defineConfig } from 'vite';

const sdk = join(import.meta.dirname, '..', 'packages', 'sdk');
const pkg = JSON.parse(readFileSync(join(sdk, 'package.json'), 'utf8'));
// The package's `browser` field (platform/index.js → platform/browser/index.js), applied to its own files.
const swap = new Map(Object.entries(pkg.browser).map(([from, to]) => [resolve(sdk, from), resolve(sdk, to)]));

export default defineConfig({
  root: sdk,
  logLevel: 'warn',
  plugins: [
    {
      name: 'vigil-sdk-browser-platform',
      enforce: 'pre',
      resolveId(source, importer) {
        if (!importer || !source.startsWith('.')) return null;
        return swap.get(resolve(dirname(importer), source)) ?? null;
      },
    },
  ],
  build: {
    lib: { entry: join(sdk, 'dist', 'esm', 'index.js'), formats: ['es'], fileName: () => 'vigil-sdk.js' },
    outDir: join(sdk, 'dist', 'served'),
    emptyOutDir: false,
    target: 'es2022',
    minify: true,
    sourcemap: false,
    reportCompressedSize: false,
  },
});
