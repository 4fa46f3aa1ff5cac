import { afterEach } from 'vitest';
import { scratchDirs } from '../../test/harness.js';
import { openStore, restoreStore } from '../index.js';
import { runStoreContract } from './index.js';

const scratch = scratchDirs();
afterEach(scratch.cleanup);

runStoreContract({
  name: 'duckdb',
  newStore: () => openStore({ engine: 'duckdb', dataDir: scratch.fresh() }),
  restore: async (image) => {
    const dataDir = scratch.fresh();
    await restoreStore({ engine: 'duckdb', dataDir }, image);
    return openStore({ engine: 'duckdb', dataDir });
  },
  scratchDir: scratch.fresh,
});
