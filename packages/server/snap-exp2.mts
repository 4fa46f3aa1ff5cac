import { DuckDBInstance } from '@duckdb/node-api';
import { rmSync } from 'node:fs';
const settings = process.argv.slice(2);
const db = await DuckDBInstance.create('/tmp/faults-big/gen-default/vigil.duckdb', { memory_limit: '128MB' });
const c = await db.connect();
for (const s of settings) await c.run(s);
rmSync('/tmp/faults-big/snap.duckdb', { force: true });
const t = Date.now();
await c.run(`ATTACH '/tmp/faults-big/snap.duckdb' AS snap`);
try {
  await c.run('BEGIN TRANSACTION');
  await c.run('COPY FROM DATABASE vigil TO snap');
  await c.run('COMMIT');
  console.log('ok', Date.now() - t);
} catch (e) { console.log('fail', (e as Error).message.slice(0, 120), Date.now() - t); }
await c.run('DETACH snap').catch((e) => console.log('detach', e.message.slice(0, 100)));
