import { randomUUID } from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import type { CommitNotice, NoticeStore, RollupSpan } from '../store/index.js';

/** A publish waits this long to carry the projects of several commits in one notice. */
const PUBLISH_MS = 100;

/** A notice holds at most this many rollup spans; beyond, it says "all" (null). */
const MAX_SPANS = 40;

/**
 * Commits of every instance sharing the store, counted per project for the live view: this
 * instance's own as they happen, the others' as their notices arrive (published at most every
 * 100 ms, with the projects committed since). A counter only moves; its value means nothing else.
 * The same notices carry the rollup buckets each instance wrote, so the others forget what they
 * cached of them (`onRollups`).
 */
export class ClusterCommits {
  /** Names this instance in its notices (its own come back and are not counted twice). */
  readonly from: string;
  private readonly byProject = new Map<string, number>();
  /** Notices naming no project (too many to name): they move every project's counter. */
  private unnamed = 0;
  private all = 0;
  private readonly unpublished = new Set<string>();
  /** Rollup spans written since the last notice; null: too many, or all (retention). */
  private unpublishedRollups: RollupSpan[] | null = [];
  private timer: NodeJS.Timeout | null = null;
  private unsubscribe: (() => Promise<void>) | null = null;

  constructor(
    private readonly notices: NoticeStore,
    private readonly o: {
      instanceId: string;
      log: FastifyBaseLogger;
      /** Another instance wrote these rollup buckets (null: any bucket). */
      onRollups?: (spans: readonly RollupSpan[] | null) => void;
    },
  ) {
    this.from = `${o.instanceId}/${randomUUID().slice(0, 8)}`;
  }

  /** Listens to the other instances; without notices the live view shows this instance's commits. */
  async start(): Promise<void> {
    try {
      this.unsubscribe = await this.notices.subscribe((notice) => {
        if (notice.from === this.from) return;
        if (notice.projects === null || notice.projects.length > 0) this.count(notice.projects);
        if (notice.rollups !== undefined) this.o.onRollups?.(notice.rollups);
      });
    } catch (err) {
      this.o.log.warn({ err }, "live view: other instances' commits are not heard; this one's are");
    }
  }

  /** This instance committed events of these projects. */
  committed(projects: Iterable<string>): void {
    const list = [...projects];
    this.count(list);
    for (const p of list) this.unpublished.add(p);
    this.schedule();
  }

  /** This instance wrote rollup rows in these spans (null: changed any, as retention does). */
  rollupsWritten(spans: readonly RollupSpan[] | null): void {
    if (spans !== null && spans.length === 0) return;
    if (spans === null || this.unpublishedRollups === null) this.unpublishedRollups = null;
    else {
      this.unpublishedRollups.push(...spans);
      if (this.unpublishedRollups.length > MAX_SPANS) this.unpublishedRollups = null;
    }
    // At once (a flush comes at most every 0.5 s): the others' answers wait for this notice.
    if (this.timer) clearTimeout(this.timer);
    void this.publish();
  }

  private schedule(): void {
    this.timer ??= setTimeout(() => void this.publish(), PUBLISH_MS);
  }

  /** A counter that moves when events of `project` (of any project when null) are committed anywhere. */
  headFor(project: string | null): number {
    return project === null ? this.all : (this.byProject.get(project) ?? 0) + this.unnamed;
  }

  async close(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    await this.publish();
    await this.unsubscribe?.();
  }

  private count(projects: readonly string[] | null): void {
    this.all += 1;
    if (projects === null) this.unnamed += 1;
    else for (const p of projects) this.byProject.set(p, (this.byProject.get(p) ?? 0) + 1);
  }

  private async publish(): Promise<void> {
    this.timer = null;
    const rollups = this.unpublishedRollups;
    if (this.unpublished.size === 0 && rollups !== null && rollups.length === 0) return;
    const notice: CommitNotice = {
      from: this.from,
      projects: [...this.unpublished],
      ...(rollups === null || rollups.length > 0 ? { rollups } : {}),
    };
    this.unpublished.clear();
    this.unpublishedRollups = [];
    await this.notices.publish(notice).catch((err: unknown) => {
      this.o.log.warn({ err }, 'live view: a commit notice was not published to the other instances');
    });
  }
}
