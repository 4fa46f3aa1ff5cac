// Makes a fresh clone runnable: installs dependencies when the lockfile is newer than the
// install, then builds the TypeScript packages (incremental, so a no-op when up to date).
import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
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
