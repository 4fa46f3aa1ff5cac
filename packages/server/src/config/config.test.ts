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
