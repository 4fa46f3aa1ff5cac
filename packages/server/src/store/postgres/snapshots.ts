import type { SnapshotRecord, SnapshotStore } from '../types.js';
import { type Db, MS, num, TS } from './shared.js';

const DAY = /^\d{4}-\d{2}-\d{2}$/;

function checkDay(d: string): string {
  if (!DAY.test(d)) throw new Error(`not a day: ${d}`);
  return d;
}

/** Integrity snapshots on PostgreSQL: one immutable row per project, day and revision. */
export class PostgresSnapshotStore implements SnapshotStore {
  constructor(private readonly db: Db) {}

  async append(s: Omit<SnapshotRecord, 'revision'>): Promise<SnapshotRecord> {
    const [r] = await this.db.transaction(async (tx) => {
      // Two instances snapshotting the same day take turns: the next revision is read under the lock.
      await tx.run('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [
        `vigil.snapshot:${s.project}:${s.date}`,
      ]);
      return tx.all(
        `INSERT INTO health_snapshots (project, day, revision, created_at, document)
         SELECT $1, $2::date, coalesce(max(revision), 0) + 1, ${TS('$3')}, $4
         FROM health_snapshots WHERE project = $1 AND day = $2::date
         RETURNING revision`,
        [s.project, checkDay(s.date), s.createdAt, s.document],
      );
    });
    return { ...s, revision: num(r?.revision) };
  }

  async list(
    project: string,
    fromDay: string,
    toDay: string,
    { allRevisions = false }: { allRevisions?: boolean } = {},
  ): Promise<SnapshotRecord[]> {
    const found = await this.db.all(
      `SELECT to_char(day, 'YYYY-MM-DD') AS day, revision, ${MS('created_at')} AS created_at, document
       FROM health_snapshots s WHERE project = $1 AND day BETWEEN $2::date AND $3::date
       ${
         allRevisions
           ? ''
           : 'AND revision = (SELECT max(revision) FROM health_snapshots m WHERE m.project = s.project AND m.day = s.day)'
       }
       ORDER BY day, revision`,
      [project, checkDay(fromDay), checkDay(toDay)],
    );
    return found.map((r) => ({
      project,
      date: r.day as string,
      revision: num(r.revision),
      createdAt: num(r.created_at),
      document: r.document as string,
    }));
  }
}
