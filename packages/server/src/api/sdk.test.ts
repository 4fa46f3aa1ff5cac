/**
 * The served SDK (docs/sdk.md): `npm install http://HOST/sdk/vigil-sdk.tgz` into a fresh project
 * works and its client delivers to the server; the browser module is one file with no imports.
 * The browser side (importing the module from a page) is in packages/web/src/newcomer.test.ts.
 */
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { call, readEvents, scratchDirs, startVigil, type Vigil } from '../test/harness.js';

const run = promisify(execFile);
const scratch = scratchDirs();
let vigil: Vigil | null = null;
afterEach(async () => {
  await vigil?.cleanup();
  vigil = null;
  scratch.cleanup();
});

describe('GET /sdk/', () => {
  it('serves an npm tarball that installs and delivers, and lists it with its version', async () => {
    vigil = await startVigil();
    const index = await call(vigil, 'GET', '/sdk/');
    expect(index.status).toBe(200);
    const listed = index.body as { version: string; files: { url: string }[] };
    expect(listed.files.map((f) => f.url)).toEqual([
      `${vigil.url}/sdk/vigil-sdk.tgz`,
      `${vigil.url}/sdk/vigil-sdk.js`,
    ]);

    const app = scratch.fresh();
    writeFileSync(
      join(app, 'package.json'),
      JSON.stringify({ name: 'newcomer-app', private: true, type: 'module' }),
    );
    await run(
      'npm',
      ['install', '--no-audit', '--no-fund', '--loglevel=error', `${vigil.url}/sdk/vigil-sdk.tgz`],
      {
        cwd: app,
        timeout: 120_000,
      },
    );
    const script = `
      import { createClient, SDK_VERSION } from '@vigil/sdk';
      const vigil = createClient({ endpoint: ${JSON.stringify(vigil.url)}, key: ${JSON.stringify(vigil.ingestKey)}, version: '1.0.0' });
      vigil.track('app.started', { from: 'tarball' });
      vigil.llm.record({ totalMs: 42, model: 'm1' });
      const result = await vigil.shutdown({ timeoutMs: 10000 });
      console.log(JSON.stringify({ result, SDK_VERSION }));`;
    writeFileSync(join(app, 'main.mjs'), script);
    const { stdout } = await run(process.execPath, ['main.mjs'], { cwd: app, timeout: 30_000 });
    const out = JSON.parse(stdout) as { result: { sent: number }; SDK_VERSION: string };
    expect(out.result.sent).toBe(2);
    expect(out.SDK_VERSION).toBe(listed.version);
    const events = await readEvents(vigil);
    expect(events.map((e) => e.type).sort()).toEqual(['app.started', 'llm.request']);
  }, 180_000);

  it('serves the browser module with CORS and without imports of its own; unknown files are 404', async () => {
    vigil = await startVigil();
    const res = await fetch(`${vigil.url}/sdk/vigil-sdk.js`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/javascript');
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    const code = await res.text();
    expect(code).toMatch(/export\s*\{[^}]*createClient/);
    expect(code).not.toMatch(/\bfrom\s*["']|\bimport\s*\(|node:/);
    const missing = await call(vigil, 'GET', '/sdk/other.js');
    expect(missing.status).toBe(404);
    expect((missing.body as { error: { code: string } }).error.code).toBe('not_found');
  });
});
