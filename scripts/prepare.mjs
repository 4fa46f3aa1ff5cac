// Makes a fresh clone runnable: installs dependencies when the lockfile is newer than the
// install, then builds the TypeScript packages (incremental, so a no-op when up to date) and the
// dashboard (only when its sources changed).
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const quiet = process.argv.includes('--quiet');
const say = (msg) => quiet || console.error(`[prepare] ${msg}`);

function run(cmd, args) {
  const result = spawnSync(cmd, args, {
    cwd: root,
    stdio: ['ignore', quiet ? 'ignore' : 'inherit', 'inherit'],
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
