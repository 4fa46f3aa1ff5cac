import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { scratchDirs } from '../test/harness.js';
import { ConfigError, checkpointPaths, loadConfig } from './index.js';

const scratch = scratchDirs();
afterEach(() => scratch.cleanup());

function withFile(content: unknown) {
  const dir = scratch.fresh();
  writeFileSync(join(dir, 'vigil.config.json'), JSON.stringify(content));
  return loadConfig({}, {}, dir);
}

describe('the store section', () => {
  it('defaults to the embedded engine with its own memory limit', () => {
    expect(loadConfig({}, {}, scratch.fresh()).store).toEqual({
      engine: 'duckdb',
      duckdb: { memoryLimit: '128MB' },
      recoveryMs: 2000,
    });
  });

  it('reads the engine options under the engine name', () => {
    expect(withFile({ store: { engine: 'duckdb', duckdb: { memoryLimit: '1GB' } } }).store).toEqual({
      engine: 'duckdb',
      duckdb: { memoryLimit: '1GB' },
      recoveryMs: 2000,
    });
  });

  it('still reads the older key store.memoryLimit, unless the engine section names a limit', () => {
    expect(withFile({ store: { memoryLimit: '256MB' } }).store.duckdb.memoryLimit).toBe('256MB');
    expect(
      withFile({ store: { memoryLimit: '256MB', duckdb: { memoryLimit: '512MB' } } }).store.duckdb
        .memoryLimit,
    ).toBe('512MB');
  });

  it('refuses an engine it does not know and a malformed limit', () => {
    expect(() => withFile({ store: { engine: 'sqlite' } })).toThrow(ConfigError);
    expect(() => withFile({ store: { memoryLimit: 'lots' } })).toThrow(/store\/duckdb\/memoryLimit/);
  });
});

describe('the metadata half on PostgreSQL', () => {
  const url = 'postgres://vigil:pw@db.internal:5432/vigil';

  it('is off by default, and read from the file, VIGIL_POSTGRES_URL and --postgres (in that order)', () => {
    expect(loadConfig({}, {}, scratch.fresh()).store.postgres).toBeUndefined();
    expect(withFile({ store: { postgres: { url } } }).store.postgres).toEqual({ url });
    const dir = scratch.fresh();
    writeFileSync(join(dir, 'vigil.config.json'), JSON.stringify({ store: { postgres: { url } } }));
    const fromEnv = `${url}_env`;
    expect(loadConfig({}, { VIGIL_POSTGRES_URL: fromEnv }, dir).store.postgres).toEqual({ url: fromEnv });
    expect(
      loadConfig({ postgresUrl: `${url}_flag` }, { VIGIL_POSTGRES_URL: fromEnv }, dir).store.postgres,
    ).toEqual({ url: `${url}_flag` });
  });

  it('refuses a URL it cannot use, naming where it came from and never repeating the password', () => {
    expect(() => loadConfig({}, { VIGIL_POSTGRES_URL: 'http://u:secret@h/db' }, scratch.fresh())).toThrow(
      /VIGIL_POSTGRES_URL does not start with postgres:\/\/ or postgresql:\/\/; give postgres:\/\/user:password@host:port\/database/,
    );
    expect(() => loadConfig({ postgresUrl: 'db.internal:5432' }, {}, scratch.fresh())).toThrow(
      /--postgres does not start with postgres:\/\//,
    );
    expect(() => withFile({ store: { postgres: { url: 'nonsense' } } })).toThrow(
      /store.postgres.url is not a URL/,
    );
    expect(() => withFile({ store: { postgres: { url, pool: 9 } } })).toThrow(ConfigError);
    try {
      loadConfig({}, { VIGIL_POSTGRES_URL: 'mysql://u:secret@h/db' }, scratch.fresh());
    } catch (err) {
      expect((err as Error).message).not.toContain('secret');
    }
  });
});

describe('the analytical half on ClickHouse', () => {
  const postgres = 'postgres://vigil:pw@db.internal:5432/vigil';
  const url = 'http://vigil:secret@ch.internal:8123';
  // Nothing is kept on local disk: the checkpoints' places are named (here a webhook and a key).
  const checkpoints = {
    VIGIL_CHECKPOINT_KEY_FILE: '/run/secrets/vigil-key.pem',
    VIGIL_CHECKPOINT_WEBHOOK_URL: 'https://audit.internal/vigil',
  };

  it('is read from the file, VIGIL_CLICKHOUSE_URL / _DATABASE and --clickhouse, with the cluster from the file', () => {
    const env = { VIGIL_POSTGRES_URL: postgres, ...checkpoints };
    expect(loadConfig({}, env, scratch.fresh()).store.clickhouse).toBeUndefined();
    const dir = scratch.fresh();
    const cluster = { name: 'vigil', shards: ['http://ch1:8123', 'http://ch2:8123'] };
    writeFileSync(
      join(dir, 'vigil.config.json'),
      JSON.stringify({ store: { clickhouse: { url, cluster } } }),
    );
    expect(loadConfig({}, env, dir).store.clickhouse).toEqual({ url, cluster });
    expect(
      loadConfig(
        {},
        { ...env, VIGIL_CLICKHOUSE_URL: 'http://env:8123', VIGIL_CLICKHOUSE_DATABASE: 'tele' },
        dir,
      ).store.clickhouse,
    ).toEqual({ url: 'http://env:8123', database: 'tele', cluster });
    expect(
      loadConfig(
        { clickhouseUrl: 'https://flag:8443' },
        { ...env, VIGIL_CLICKHOUSE_URL: 'http://env:8123' },
        dir,
      ).store.clickhouse?.url,
    ).toBe('https://flag:8443');
    // The checkpoints go nowhere by default: no file beside a data directory that is not used.
    expect(checkpointPaths(loadConfig({}, env, dir))).toEqual({
      file: null,
      keyFile: '/run/secrets/vigil-key.pem',
    });
  });

  it('needs PostgreSQL, a usable URL, and places for the checkpoints, and says which', () => {
    const dir = scratch.fresh();
    expect(() => loadConfig({ clickhouseUrl: url }, checkpoints, dir)).toThrow(
      /--clickhouse puts the events in ClickHouse, which needs the metadata .* in PostgreSQL: give --postgres URL or VIGIL_POSTGRES_URL too/,
    );
    const env = { VIGIL_POSTGRES_URL: postgres, ...checkpoints };
    expect(() => loadConfig({}, { ...env, VIGIL_CLICKHOUSE_URL: 'ch.internal:8123' }, dir)).toThrow(
      /VIGIL_CLICKHOUSE_URL does not start with http:\/\/ or https:\/\//,
    );
    expect(() => loadConfig({}, { ...env, VIGIL_CLICKHOUSE_DATABASE: 'tele' }, dir)).toThrow(
      /VIGIL_CLICKHOUSE_DATABASE is set but no ClickHouse is/,
    );
    expect(() =>
      loadConfig({}, { ...env, VIGIL_CLICKHOUSE_URL: url, VIGIL_CLICKHOUSE_DATABASE: 'a-b;' }, dir),
    ).toThrow(/store\/clickhouse\/database/);
    expect(() => loadConfig({ clickhouseUrl: url }, { VIGIL_POSTGRES_URL: postgres }, dir)).toThrow(
      /keeps nothing, so the signed audit checkpoints need places of yours: the signing key \(--checkpoint-key/,
    );
    expect(() =>
      loadConfig({ clickhouseUrl: url, checkpointKeyFile: '/k.pem' }, { VIGIL_POSTGRES_URL: postgres }, dir),
    ).toThrow(/VIGIL_CHECKPOINT_WEBHOOK_URL, or --checkpoint-file FILE/);
    // A file of yours will do instead of a webhook; or no checkpoints at all.
    expect(
      loadConfig(
        { clickhouseUrl: url, checkpointKeyFile: '/k.pem', checkpointFile: '/audit/c.jsonl' },
        { VIGIL_POSTGRES_URL: postgres },
        dir,
      ).checkpoints.file,
    ).toBe('/audit/c.jsonl');
    writeFileSync(join(dir, 'vigil.config.json'), JSON.stringify({ checkpoints: { enabled: false } }));
    expect(
      loadConfig({ clickhouseUrl: url }, { VIGIL_POSTGRES_URL: postgres }, dir).store.clickhouse?.url,
    ).toBe(url);
    try {
      loadConfig({ clickhouseUrl: 'ftp://u:secret@h' }, { VIGIL_POSTGRES_URL: postgres }, dir);
      expect.unreachable();
    } catch (err) {
      expect((err as Error).message).not.toContain('secret');
    }
  });
});

describe('optional sections in the file', () => {
  it('takes a section that has no default (auth.oidc) whole, and still refuses unknown keys', () => {
    const oidc = { issuer: 'https://idp.example', clientId: 'vigil' };
    expect(withFile({ auth: { oidc } }).auth.oidc).toEqual(oidc);
    expect(() => withFile({ auth: { oidc: { ...oidc, nope: 1 } } })).toThrow(ConfigError);
    expect(() => withFile({ ingest: { nope: 1 } })).toThrow(/unknown configuration key 'nope'/);
  });
});
