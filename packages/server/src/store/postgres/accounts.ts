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
import { type Db, MS, num, numOrNull, type Row, TS, textOrNull } from './shared.js';

const PROJECT_SELECT = `SELECT id, name, strict_types, ${MS('created_at')} AS created_at,
  retention_raw_days, retention_rollup_days, retention_daily_rollup_days FROM projects`;
const KEY_SELECT = `SELECT id, project, role, name, secret_hash, ${MS('created_at')} AS created_at,
  ${MS('revoked_at')} AS revoked_at FROM api_keys`;
const USER_SELECT = `SELECT id, name, role, password_hash, ${MS('created_at')} AS created_at FROM users`;
const IDENTITY_SELECT = 'SELECT issuer, subject, user_id, email FROM user_identities';
const INSERT_USER = `INSERT INTO users (id, name, role, password_hash, created_at) VALUES ($1, $2, $3, $4, ${TS('$5')})`;

/** Projects, keys, people and their sessions on PostgreSQL. */
export class PostgresAccountStore implements AccountStore {
  constructor(private readonly db: Db) {}

  async getProject(id: string): Promise<ProjectRecord | null> {
    const [r] = await this.db.all(`${PROJECT_SELECT} WHERE id = $1`, [id]);
    return r ? toProject(r) : null;
  }

  async listProjects(): Promise<ProjectRecord[]> {
    return (await this.db.all(`${PROJECT_SELECT} ORDER BY id`)).map(toProject);
  }

  async ensureProject(p: Omit<ProjectRecord, 'retention'>): Promise<ProjectRecord> {
    await this.db.run(
      `INSERT INTO projects (id, name, strict_types, created_at) VALUES ($1, $2, $3, ${TS('$4')})
       ON CONFLICT (id) DO NOTHING`,
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
      await this.db.run('UPDATE projects SET strict_types = $2 WHERE id = $1', [id, patch.strictTypes]);
    }
    if (patch.retention) {
      const r = patch.retention;
      await this.db.run(
        `UPDATE projects SET retention_raw_days = $2, retention_rollup_days = $3,
           retention_daily_rollup_days = $4 WHERE id = $1`,
        [id, r.rawDays, r.rollupDays, r.dailyRollupDays],
      );
    }
  }

  async insertKey(k: KeyRecord): Promise<void> {
    await this.db.run(
      `INSERT INTO api_keys (id, project, role, name, secret_hash, created_at, revoked_at)
       VALUES ($1, $2, $3, $4, $5, ${TS('$6')}, NULL)`,
      [k.id, k.project, k.role, k.name, k.secretHash, k.createdAt],
    );
  }

  async getKey(id: string): Promise<KeyRecord | null> {
    const [r] = await this.db.all(`${KEY_SELECT} WHERE id = $1`, [id]);
    return r ? toKey(r) : null;
  }

  async listKeys(project: string | null): Promise<KeyRecord[]> {
    const found =
      project === null
        ? await this.db.all(`${KEY_SELECT} ORDER BY created_at, id`)
        : await this.db.all(`${KEY_SELECT} WHERE project = $1 ORDER BY created_at, id`, [project]);
    return found.map(toKey);
  }

  async revokeKey(id: string, at: number): Promise<boolean> {
    const changed = await this.db.run(
      `UPDATE api_keys SET revoked_at = ${TS('$2')} WHERE id = $1 AND revoked_at IS NULL`,
      [id, at],
    );
    return changed > 0;
  }

  async insertUser(u: UserRecord): Promise<void> {
    await this.db.run(INSERT_USER, [u.id, u.name, u.role, u.passwordHash, u.createdAt]);
  }

  async getUserByName(name: string): Promise<UserRecord | null> {
    const [r] = await this.db.all(`${USER_SELECT} WHERE name = $1`, [name]);
    return r ? toUser(r) : null;
  }

  async getUser(id: string): Promise<UserRecord | null> {
    const [r] = await this.db.all(`${USER_SELECT} WHERE id = $1`, [id]);
    return r ? toUser(r) : null;
  }

  async listUsers(): Promise<UserRecord[]> {
    return (await this.db.all(`${USER_SELECT} ORDER BY created_at, name`)).map(toUser);
  }

  async countUsers(): Promise<number> {
    const [r] = await this.db.all('SELECT count(*) AS n FROM users');
    return num(r?.n ?? 0);
  }

  async userProjectRoles(userId: string): Promise<ProjectRoleRecord[]> {
    const found = await this.db.all(
      'SELECT project, role FROM user_project_roles WHERE user_id = $1 ORDER BY project',
      [userId],
    );
    return found.map((r) => ({ project: r.project as string, role: r.role as PersonRole }));
  }

  async setUserRoles(
    userId: string,
    roles: { role: PersonRole | null; projects: readonly ProjectRoleRecord[] },
  ): Promise<void> {
    await this.db.transaction(async (tx) => {
      await tx.run('UPDATE users SET role = $2 WHERE id = $1', [userId, roles.role]);
      await tx.run('DELETE FROM user_project_roles WHERE user_id = $1', [userId]);
      if (roles.projects.length > 0) {
        await tx.run(
          `INSERT INTO user_project_roles (user_id, project, role)
           SELECT $1, project, role FROM unnest($2::text[], $3::text[]) AS r(project, role)`,
          [userId, roles.projects.map((p) => p.project), roles.projects.map((p) => p.role)],
        );
      }
    });
  }

  async setUserPassword(userId: string, passwordHash: string): Promise<void> {
    await this.db.run('UPDATE users SET password_hash = $2 WHERE id = $1', [userId, passwordHash]);
  }

  async getIdentity(issuer: string, subject: string): Promise<IdentityRecord | null> {
    const [r] = await this.db.all(`${IDENTITY_SELECT} WHERE issuer = $1 AND subject = $2`, [issuer, subject]);
    return r ? toIdentity(r) : null;
  }

  async listIdentities(): Promise<IdentityRecord[]> {
    return (await this.db.all(`${IDENTITY_SELECT} ORDER BY issuer, subject`)).map(toIdentity);
  }

  async insertUserWithIdentity(user: UserRecord, identity: IdentityRecord): Promise<void> {
    await this.db.transaction(async (tx) => {
      await tx.run(INSERT_USER, [user.id, user.name, user.role, user.passwordHash, user.createdAt]);
      await tx.run('INSERT INTO user_identities (issuer, subject, user_id, email) VALUES ($1, $2, $3, $4)', [
        identity.issuer,
        identity.subject,
        identity.userId,
        identity.email,
      ]);
    });
  }

  async setIdentityEmail(issuer: string, subject: string, email: string | null): Promise<void> {
    await this.db.run('UPDATE user_identities SET email = $3 WHERE issuer = $1 AND subject = $2', [
      issuer,
      subject,
      email,
    ]);
  }

  async appendAccountEvent(e: AccountEventRecord): Promise<void> {
    await this.db.run(
      `INSERT INTO account_events (occurred_at, kind, user_name, actor, address, detail)
       VALUES (${TS('$1')}, $2, $3, $4, $5, $6)`,
      [e.at, e.kind, e.user, e.actor, e.address, e.detail],
    );
  }

  async accountEvents(query: { limit: number; user?: string }): Promise<AccountEventRecord[]> {
    const found = await this.db.all(
      `SELECT ${MS('occurred_at')} AS at, kind, user_name, actor, address, detail FROM account_events
       ${query.user === undefined ? '' : 'WHERE user_name = $2'} ORDER BY occurred_at DESC, id DESC LIMIT $1`,
      query.user === undefined
        ? [Math.max(0, Math.trunc(query.limit))]
        : [Math.max(0, Math.trunc(query.limit)), query.user],
    );
    return found.map((r) => ({
      at: num(r.at),
      kind: r.kind as AccountEventKind,
      user: r.user_name as string,
      actor: r.actor as string,
      address: textOrNull(r.address),
      detail: textOrNull(r.detail),
    }));
  }

  async lastSignIns(): Promise<Map<string, number>> {
    const found = await this.db.all(
      `SELECT user_name, ${MS('max(occurred_at)')} AS at FROM account_events WHERE kind = 'sign_in' GROUP BY user_name`,
    );
    return new Map(found.map((r) => [r.user_name as string, num(r.at)]));
  }

  async insertSession(s: SessionRecord): Promise<void> {
    await this.db.run(
      `INSERT INTO sessions (id, user_id, created_at, expires_at) VALUES ($1, $2, ${TS('$3')}, ${TS('$4')})`,
      [s.id, s.userId, s.createdAt, s.expiresAt],
    );
  }

  async getSession(id: string): Promise<SessionRecord | null> {
    const [r] = await this.db.all(
      `SELECT id, user_id, ${MS('created_at')} AS created_at, ${MS('expires_at')} AS expires_at
       FROM sessions WHERE id = $1`,
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
    await this.db.run('DELETE FROM sessions WHERE id = $1', [id]);
  }

  async deleteUserSessions(userId: string): Promise<number> {
    return this.db.run('DELETE FROM sessions WHERE user_id = $1', [userId]);
  }

  async llmPrices(project: string): Promise<string | null> {
    const [r] = await this.db.all('SELECT document FROM llm_prices WHERE project = $1', [project]);
    return r ? (r.document as string) : null;
  }

  async putLlmPrices(project: string, document: string, at: number): Promise<void> {
    await this.db.run(
      `INSERT INTO llm_prices (project, updated_at, document) VALUES ($1, ${TS('$2')}, $3)
       ON CONFLICT (project) DO UPDATE SET updated_at = excluded.updated_at, document = excluded.document`,
      [project, at, document],
    );
  }
}

function toProject(r: Row): ProjectRecord {
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

function toKey(r: Row): KeyRecord {
  return {
    id: r.id as string,
    project: r.project as string,
    role: r.role as Role,
    name: textOrNull(r.name),
    secretHash: r.secret_hash as string,
    createdAt: num(r.created_at),
    revokedAt: numOrNull(r.revoked_at),
  };
}

function toUser(r: Row): UserRecord {
  return {
    id: r.id as string,
    name: r.name as string,
    role: (r.role as PersonRole | null) ?? null,
    passwordHash: r.password_hash as string,
    createdAt: num(r.created_at),
  };
}

function toIdentity(r: Row): IdentityRecord {
  return {
    issuer: r.issuer as string,
    subject: r.subject as string,
    userId: r.user_id as string,
    email: textOrNull(r.email),
  };
}
