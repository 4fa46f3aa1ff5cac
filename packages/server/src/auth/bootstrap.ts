import { randomBytes, randomUUID } from 'node:crypto';
import type { Role } from '../model/index.js';
import type { AccountStore } from '../store/index.js';
import { hashSecret, newApiKey } from './secrets.js';

export const DEFAULT_PROJECT = 'default';

/** The first start's example event (printed as a curl line): a built-in type, so the Overview shows it at once. */
export const FIRST_EVENT = {
  events: [
    {
      type: 'llm.request',
      version: '1.0.0',
      props: { total_ms: 820, llm_ms: 700, prompt_tokens: 512, completion_tokens: 64, model: 'gpt-4o' },
    },
  ],
} as const;

export interface Bootstrap {
  /** Set only on the first start, when the admin user was created. */
  created: { adminPassword: string; passwordWasGiven: boolean; ingestKey: string } | null;
}

export async function createKey(
  meta: AccountStore,
  input: { project: string; role: Role; name: string | null },
): Promise<{ id: string; key: string; createdAt: number }> {
  const { id, secret, token } = newApiKey();
  const createdAt = Date.now();
  await meta.insertKey({
    id,
    project: input.project,
    role: input.role,
    name: input.name,
    secretHash: await hashSecret(secret),
    createdAt,
    revokedAt: null,
  });
  return { id, key: token, createdAt };
}

/** First start on an empty store: the default project, the admin user and a first ingest key. */
export async function bootstrap(meta: AccountStore, adminPassword: string | undefined): Promise<Bootstrap> {
  await meta.ensureProject({
    id: DEFAULT_PROJECT,
    name: 'Default project',
    strictTypes: false,
    createdAt: Date.now(),
  });
  if ((await meta.countUsers()) > 0) return { created: null };
  const password = adminPassword ?? randomBytes(12).toString('base64url');
  await meta.insertUser({
    id: randomUUID(),
    name: 'admin',
    role: 'admin',
    passwordHash: await hashSecret(password),
    createdAt: Date.now(),
  });
  const { key } = await createKey(meta, {
    project: DEFAULT_PROJECT,
    role: 'ingest',
    name: 'first ingest key',
  });
  return {
    created: { adminPassword: password, passwordWasGiven: adminPassword !== undefined, ingestKey: key },
  };
}
