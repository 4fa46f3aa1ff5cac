// Makes a fresh clone runnable: installs dependencies when the lockfile is newer than the
// install, then builds the TypeScript packages (incremental, so a no-op when up to date) and the
// dashboard (only when its sources changed).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const quiet = process.argv.includes('--quiet');
const say = (msg) => quiet || console.error(`[prepare] ${msg}`);

function run(cmd, args, { output = !quiet } = {}) {
  const result = spawnSync(cmd, args, {
    cwd: root,
    stdio: ['ignore', output ? 'inherit' : 'ignore', 'inherit'],
  });
  if (result.status !== 0) {
    console.error(`[prepare] '${cmd} ${args.join(' ')}' failed (exit ${result.status ?? result.signal})`);
    process.exit(result.status ?? 1);
  }
}

const mtime = (p) => (existsSync(p) ? statSync(p).mtimeMs : 0);
const installed = join(root, 'node_modules', '.package-lock.json');
if (!existsSync(installed) || mtime(join(root, 'package-lock.json')) > mtime(installed)) {
  // `npm install`, not `npm ci`: with omit-lockfile-registry-resolved (set on these machines) the
  // lockfile cannot record other platforms' optional binaries, and `npm ci` refuses such a lockfile.
  say('installing dependencies (npm install)…');
  run('npm', ['install', '--no-audit', '--no-fund']);
}
say('building (tsc -b)…');
run(join(root, 'node_modules', '.bin', 'tsc'), ['-b']);

// The dashboard (packages/web → packages/web/dist, served by the server): rebuilt when a source is newer.
const web = join(root, 'packages', 'web');
const newest = (p) => {
  if (!existsSync(p)) return 0;
  const st = statSync(p);
  if (!st.isDirectory()) return st.mtimeMs;
  return Math.max(st.mtimeMs, ...readdirSync(p).map((name) => newest(join(p, name))));
};
const webSources = ['src', 'public', 'index.html', 'vite.config.ts', 'package.json'].map((p) =>
  newest(join(web, p)),
);
if (Math.max(...webSources) > mtime(join(web, 'dist', 'index.html'))) {
  say('building the dashboard (vite build)…');
  run(join(root, 'node_modules', '.bin', 'vite'), ['build', '--logLevel', 'warn', web]);
}

// The SDK the server serves at /sdk/ (docs/sdk.md): an npm tarball and one ES module for browsers,
// built from this tree's SDK so they always match the server. Rebuilt when the SDK build changed.
const sdk = join(root, 'packages', 'sdk');
const served = join(sdk, 'dist', 'served');
const tarball = join(served, 'vigil-sdk.tgz');
const sdkBuilt = Math.max(
  newest(join(sdk, 'dist', 'esm')),
  newest(join(sdk, 'dist', 'cjs')),
  newest(join(sdk, 'package.json')),
  newest(join(sdk, 'README.md')),
);
if (sdkBuilt > Math.min(mtime(tarball), mtime(join(served, 'vigil-sdk.js')))) {
  say('packing the SDK the server serves (npm pack, vite build)…');
  mkdirSync(served, { recursive: true });
  const { version } = JSON.parse(readFileSync(join(sdk, 'package.json'), 'utf8'));
  // npm pack prints the file name on stdout.
  run('npm', ['pack', '--silent', '--workspace', 'packages/sdk', '--pack-destination', served], {
    output: false,
  });
  renameSync(join(served, `vigil-sdk-${version}.tgz`), tarball);
  run(join(root, 'node_modules', '.bin', 'vite'), [
    'build',
    '--config',
    join(root, 'scripts', 'sdk-bundle.vite.mjs'),
  ]);
}
