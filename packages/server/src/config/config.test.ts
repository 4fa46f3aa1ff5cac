import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { scratchDirs } from '../test/harness.js';
import { ConfigError, loadConfig } from './index.js';

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

describe('optional sections in the file', () => {
  it('takes a section that has no default (auth.oidc) whole, and still refuses unknown keys', () => {
    const oidc = { issuer: 'https://idp.example', clientId: 'vigil' };
    expect(withFile({ auth: { oidc } }).auth.oidc).toEqual(oidc);
    expect(() => withFile({ auth: { oidc: { ...oidc, nope: 1 } } })).toThrow(ConfigError);
    expect(() => withFile({ ingest: { nope: 1 } })).toThrow(/unknown configuration key 'nope'/);
  });
});
