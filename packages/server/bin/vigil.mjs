#!/usr/bin/env node
// The `vigil` command as npm links it (`npx vigil`, node_modules/.bin/vigil). A committed file, not
// the build output: npm links bins at install time, which on a fresh clone comes before the first
// build, and a bin whose file is missing is not linked at all.
import { existsSync } from 'node:fs';

const main = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(main)) {
  console.error(
    "vigil: the server is not built yet; run 'node scripts/prepare.mjs' (or 'npm start') in the repository first",
  );
  process.exit(1);
}
await import(main.href);
