import type { CommitNotice, NoticeStore } from './types.js';

/**
 * Notices within one process: the engine's store opens in one process at a time (DuckDB), so every
 * subscriber is here. Delivered on the next turn of the event loop, as a notice from a database
 * would be, never inside the publisher's call.
 */
export class LocalNotices implements NoticeStore {
  private readonly listeners = new Set<(notice: CommitNotice) => void>();

  async publish(notice: CommitNotice): Promise<void> {
    for (const listener of this.listeners) setImmediate(() => listener(notice));
  }

  async subscribe(listener: (notice: CommitNotice) => void): Promise<() => Promise<void>> {
    this.listeners.add(listener);
    return async () => {
      this.listeners.delete(listener);
    };
  }
}
