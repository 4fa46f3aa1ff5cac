import { defineConfig } from 'vite';

// The dashboard is served by the Vigil server from packages/web/dist (see packages/server/src/api/web.ts).
export default defineConfig({
  root: import.meta.dirname,
  build: { outDir: 'dist', emptyOutDir: true, target: 'es2022', reportCompressedSize: true },
  server: { proxy: { '/api': 'http://127.0.0.1:4318' } },
});
