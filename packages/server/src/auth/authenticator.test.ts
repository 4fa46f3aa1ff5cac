import { afterEach, describe, expect, it } from 'vitest';
import { openStore } from '../store/index.js';
import { scratchDirs } from '../test/harness.js';
import { Authenticator } from './authenticator.js';
import { hashSecret, newApiKey } from './secrets.js';

const scratch = scratchDirs();
afterEach(scratch.cleanup);

describe('Authenticator', () => {
  it('a key revoked through another instance sharing the store is refused here within a second', async () => {
    const store = await openStore({ dataDir: scratch.fresh() });
    try {
      const { id, secret, token } = newApiKey();
      await store.meta.insertKey({
        id,
        project: 'default',
        role: 'ingest',
        name: null,
        secretHash: await hashSecret(secret),
        createdAt: 0,
        revokedAt: null,
      });
      // Two instances over one metadata store, each with its own cache.
      const here = new Authenticator(store.meta, undefined);
      const there = new Authenticator(store.meta, undefined);
      const t = 1_000_000;
      const principal = { role: 'ingest', project: 'default', subject: `key:${id}` };
      expect(await here.fromBearer(token, t)).toEqual(principal);
      expect(await there.fromBearer(token, t)).toEqual(principal);

      // Revoked through the other instance: it forgets the key at once.
      expect(await store.meta.revokeKey(id, t + 10)).toBe(true);
      there.evictKey(id);
      await expect(there.fromBearer(token, t + 20)).rejects.toMatchObject({ code: 'key_revoked' });
      // Here the cached key holds until it is read again, at most a second later.
      expect(await here.fromBearer(token, t + 500)).toEqual(principal);
      await expect(here.fromBearer(token, t + 1_000)).rejects.toMatchObject({ code: 'key_revoked' });
      await expect(here.fromBearer(token, t + 1_001)).rejects.toMatchObject({ code: 'key_revoked' });
    } finally {
      await store.close();
    }
  });
});
