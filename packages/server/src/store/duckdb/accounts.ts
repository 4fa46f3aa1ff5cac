import type { DuckDBValue } from '@duckdb/node-api';
import type { PersonRole, Role } from '../../model/index.js';
import type {
  AccountEventKind,
  AccountEventRecord,
  AccountStore,
  IdentityRecord,
  KeyRecord,
  ProjectRecord,
  ProjectRoleRecord,
  RetentionOverrides,
  SessionRecord,
  UserRecord,
} from '../types.js';
import { num, numOrNull, rows, type Serial, TS } from './shared.js';

export class DuckDBAccountStore implements AccountStore {
  constructor(private readonly conn: Serial) {}

  private all(sql: string, values?: DuckDBValue[]) {
    return this.conn.run((c) => rows(c, sql, values));
  }

  async getProject(id: string): Promise<ProjectRecord | null> {
    const [r] = await this.all(`${PROJECT_SELECT} WHERE id = $1`, [id]);
    return r ? toProject(r) : null;
  }

  async listProjects(): Promise<ProjectRecord[]> {
    return (await this.all(`${PROJECT_SELECT} ORDER BY id`)).map(toProject);
  }

  async ensureProject(p: Omit<ProjectRecord, 'retention'>): Promise<ProjectRecord> {
    await this.all(
      `INSERT INTO projects (id, name, strict_types, created_at) VALUES ($1, $2, $3, ${TS('$4')}) ON CONFLICT DO NOTHING`,
      [p.id, p.name, p.strictTypes, p.createdAt],
    );
    return (
      (await this.getProject(p.id)) ?? {
        ...p,
        retention: { rawDays: null, rollupDays: null, dailyRollupDays: null },
      }
    );
  }

  async updateProject(
    id: string,
    patch: { strictTypes?: boolean; retention?: RetentionOverrides },
  ): Promise<void> {
    if (patch.strictTypes !== undefined) {
      await this.all('UPDATE projects SET strict_types = $2 WHERE id = $1', [id, patch.strictTypes]);
    }
    if (patch.retention) {
      const r = patch.retention;
      await this.all(
        'UPDATE projects SET retention_raw_days = $2, retention_rollup_days = $3, retention_daily_rollup_days = $4 WHERE id = $1',
        [id, r.rawDays, r.rollupDays, r.dailyRollupDays],
      );
    }
  }

  async insertKey(k: KeyRecord): Promise<void> {
    await this.all(`INSERT INTO api_keys VALUES ($1, $2, $3, $4, $5, ${TS('$6')}, NULL)`, [
      k.id,
      k.project,
      k.role,
      k.name,
      k.secretHash,
      k.createdAt,
    ]);
  }

  async getKey(id: string): Promise<KeyRecord | null> {
    const [r] = await this.all(`${KEY_SELECT} WHERE id = $1`, [id]);
    return r ? toKey(r) : null;
  }

  async listKeys(project: string | null): Promise<KeyRecord[]> {
    const found =
      project === null
        ? await this.all(`${KEY_SELECT} ORDER BY created_at, id`)
        : await this.all(`${KEY_SELECT} WHERE project = $1 ORDER BY created_at, id`, [project]);
    return found.map(toKey);
  }

  async revokeKey(id: string, at: number): Promise<boolean> {
    const found = await this.all(
      `UPDATE api_keys SET revoked_at = ${TS('$2')} WHERE id = $1 AND revoked_at IS NULL RETURNING id`,
      [id, at],
    );
    return found.length > 0;
  }

  async insertUser(u: UserRecord): Promise<void> {
    await this.all(`INSERT INTO users VALUES ($1, $2, $3, $4, ${TS('$5')})`, [
      u.id,
      u.name,
      u.role,
      u.passwordHash,
      u.createdAt,
    ]);
  }

  async getUserByName(name: string): Promise<UserRecord | null> {
    const [r] = await this.all(`${USER_SELECT} WHERE name = $1`, [name]);
    return r ? toUser(r) : null;
  }

  async getUser(id: string): Promise<UserRecord | null> {
    const [r] = await this.all(`${USER_SELECT} WHERE id = $1`, [id]);
    return r ? toUser(r) : null;
  }

  async listUsers(): Promise<UserRecord[]> {
    return (await this.all(`${USER_SELECT} ORDER BY created_at, name`)).map(toUser);
  }

  async countUsers(): Promise<number> {
    const [r] = await this.all('SELECT count(*) AS n FROM users');
    return num(r?.n ?? 0);
  }

  async insertSession(s: SessionRecord): Promise<void> {
    await this.all(`INSERT INTO sessions VALUES ($1, $2, ${TS('$3')}, ${TS('$4')})`, [
      s.id,
      s.userId,
      s.createdAt,
      s.expiresAt,
    ]);
  }

  async getSession(id: string): Promise<SessionRecord | null> {
    const [r] = await this.all(
      'SELECT id, user_id, epoch_ms(created_at) AS created_at, epoch_ms(expires_at) AS expires_at FROM sessions WHERE id = $1',
      [id],
    );
    return r
      ? {
          id: r.id as string,
          userId: r.user_id as string,
          createdAt: num(r.created_at),
          expiresAt: num(r.expires_at),
        }
      : null;
  }

  async deleteSession(id: string): Promise<void> {
    await this.all('DELETE FROM sessions WHERE id = $1', [id]);
  }

  async llmPrices(project: string): Promise<string | null> {
    const [r] = await this.all('SELECT document FROM llm_prices WHERE project = $1', [project]);
    return r ? (r.document as string) : null;
  }

  async putLlmPrices(project: string, document: string, at: number): Promise<void> {
    await this.all(
      `INSERT INTO llm_prices VALUES ($1, ${TS('$2')}, $3)
       ON CONFLICT (project) DO UPDATE SET updated_at = excluded.updated_at, document = excluded.document`,
      [project, at, document],
    );
  }

  async deleteUserSessions(userId: string): Promise<number> {
    return (await this.all('DELETE FROM sessions WHERE user_id = $1 RETURNING id', [userId])).length;
  }

  async userProjectRoles(userId: string): Promise<ProjectRoleRecord[]> {
    const found = await this.all(
      'SELECT project, role FROM user_project_roles WHERE user_id = $1 ORDER BY project',
      [userId],
    );
    return found.map((r) => ({ project: r.project as string, role: r.role as PersonRole }));
  }

  async setUserRoles(
    userId: string,
    roles: { role: PersonRole | null; projects: readonly ProjectRoleRecord[] },
  ): Promise<void> {
    await this.conn.transaction(async (c) => {
      await rows(c, 'UPDATE users SET role = $2 WHERE id = $1', [userId, roles.role]);
      await rows(c, 'DELETE FROM user_project_roles WHERE user_id = $1', [userId]);
      for (const p of roles.projects) {
        await rows(c, 'INSERT INTO user_project_roles VALUES ($1, $2, $3)', [userId, p.project, p.role]);
      }
    });
  }

  async setUserPassword(userId: string, passwordHash: string): Promise<void> {
    await this.all('UPDATE users SET password_hash = $2 WHERE id = $1', [userId, passwordHash]);
  }

  async getIdentity(issuer: string, subject: string): Promise<IdentityRecord | null> {
    const [r] = await this.all(`${IDENTITY_SELECT} WHERE issuer = $1 AND subject = $2`, [issuer, subject]);
    return r ? toIdentity(r) : null;
  }

  async listIdentities(): Promise<IdentityRecord[]> {
    return (await this.all(`${IDENTITY_SELECT} ORDER BY issuer, subject`)).map(toIdentity);
  }

  async setIdentityEmail(issuer: string, subject: string, email: string | null): Promise<void> {
    await this.all('UPDATE user_identities SET email = $3 WHERE issuer = $1 AND subject = $2', [
      issuer,
      subject,
      email,
    ]);
  }

  async insertUserWithIdentity(user: UserRecord, identity: IdentityRecord): Promise<void> {
    await this.conn.transaction(async (c) => {
      await rows(c, `INSERT INTO users VALUES ($1, $2, $3, $4, ${TS('$5')})`, [
        user.id,
        user.name,
        user.role,
        user.passwordHash,
        user.createdAt,
      ]);
      await rows(c, 'INSERT INTO user_identities VALUES ($1, $2, $3, $4)', [
        identity.issuer,
        identity.subject,
        identity.userId,
        identity.email,
      ]);
    });
  }

  async appendAccountEvent(e: AccountEventRecord): Promise<void> {
    await this.all(`INSERT INTO account_events VALUES (${TS('$1')}, $2, $3, $4, $5, $6)`, [
      e.at,
      e.kind,
      e.user,
      e.actor,
      e.address,
      e.detail,
    ]);
  }

  async accountEvents(query: { limit: number; user?: string }): Promise<AccountEventRecord[]> {
    const found = await this.all(
      `SELECT epoch_ms(occurred_at) AS at, kind, user_name, actor, address, detail FROM account_events
       ${query.user === undefined ? '' : 'WHERE user_name = $2'} ORDER BY occurred_at DESC LIMIT $1`,
      query.user === undefined ? [query.limit] : [query.limit, query.user],
    );
    return found.map((r) => ({
      at: num(r.at),
      kind: r.kind as AccountEventKind,
      user: r.user_name as string,
      actor: r.actor as string,
      address: (r.address as string | null) ?? null,
      detail: (r.detail as string | null) ?? null,
    }));
  }

  async lastSignIns(): Promise<Map<string, number>> {
    const found = await this.all(
      "SELECT user_name, epoch_ms(max(occurred_at)) AS at FROM account_events WHERE kind = 'sign_in' GROUP BY user_name",
    );
    return new Map(found.map((r) => [r.user_name as string, num(r.at)]));
  }
}

const IDENTITY_SELECT = 'SELECT issuer, subject, user_id, email FROM user_identities';

function toIdentity(r: Record<string, unknown>): IdentityRecord {
  return {
    issuer: r.issuer as string,
    subject: r.subject as string,
    userId: r.user_id as string,
    email: (r.email as string | null) ?? null,
  };
}

const KEY_SELECT =
  'SELECT id, project, role, name, secret_hash, epoch_ms(created_at) AS created_at, epoch_ms(revoked_at) AS revoked_at FROM api_keys';
const USER_SELECT = 'SELECT id, name, role, password_hash, epoch_ms(created_at) AS created_at FROM users';

const PROJECT_SELECT = `SELECT id, name, strict_types, epoch_ms(created_at) AS created_at,
  retention_raw_days, retention_rollup_days, retention_daily_rollup_days FROM projects`;

function toProject(r: Record<string, unknown>): ProjectRecord {
  return {
    id: r.id as string,
    name: r.name as string,
    strictTypes: r.strict_types as boolean,
    createdAt: num(r.created_at),
    retention: {
      rawDays: numOrNull(r.retention_raw_days),
      rollupDays: numOrNull(r.retention_rollup_days),
      dailyRollupDays: numOrNull(r.retention_daily_rollup_days),
    },
  };
}

function toKey(r: Record<string, unknown>): KeyRecord {
  return {
    id: r.id as string,
    project: r.project as string,
    role: r.role as Role,
    name: (r.name as string | null) ?? null,
    secretHash: r.secret_hash as string,
    createdAt: num(r.created_at),
    revokedAt: numOrNull(r.revoked_at),
  };
}

function toUser(r: Record<string, unknown>): UserRecord {
  return {
    id: r.id as string,
    name: r.name as string,
    role: (r.role as PersonRole | null) ?? null,
    passwordHash: r.password_hash as string,
    createdAt: num(r.created_at),
  };
}
