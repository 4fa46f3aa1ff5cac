/**
 * The store contract: one suite every engine passes (in the manner of Hono's shared router tests,
 * `runTest({ newRouter })`). An engine's test file calls `runStoreContract` with a function that
 * opens a fresh, empty store of that engine; the ClickHouse/PostgreSQL engines run the same suite.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { nextLink } from '../../audit/index.js';
import { emptyRow } from '../../model/index.js';
import type { AnalyticalStore, MetadataStore, Store } from '../types.js';
import { analyticalContract, idAt } from './analytical.js';
import { metadataContract } from './metadata.js';
import {
  ANALYTICAL_METHODS,
  METADATA_METHODS,
  type MethodList,
  recording,
  STORE_METHODS,
  uncalled,
} from './methods.js';

export { ANALYTICAL_METHODS, METADATA_METHODS, STORE_METHODS } from './methods.js';

export interface StoreContractOptions {
  /** Shown in the test names, e.g. `duckdb`. */
  name: string;
  /** Opens a fresh, empty, migrated store (a new one on every call). */
  newStore: () => Promise<Store>;
  /** Makes a store from a backup image of this engine, where `newStore` would (for restore). */
  restore: (image: Readable) => Promise<Store>;
  /** A directory the engine may use for backup copies. */
  scratchDir: () => string;
}

export interface MetadataContractOptions {
  /** Shown in the test names, e.g. `postgres`. */
  name: string;
  /** Opens a fresh, empty, migrated metadata half (a new one on every call). */
  newStore: () => Promise<MetadataStore>;
}

/**
 * Runs the metadata contract alone, for an engine that keeps only that half (PostgreSQL): the
 * same tests `runStoreContract` runs, and the same check that every method was called.
 */
export function runMetadataContract({ name, newStore }: MetadataContractOptions): void {
  const opened: { close(): Promise<void> }[] = [];
  afterEach(async () => {
    for (const s of opened.splice(0)) await s.close();
  });
  const open = async () => {
    const store = await newStore();
    opened.push(store);
    return store;
  };
  half({ name, parts: METADATA_METHODS, label: 'metadata half', newStore: open }, metadataContract);
}

export interface AnalyticalContractOptions {
  /** Shown in the test names, e.g. `clickhouse`. */
  name: string;
  /** Opens a fresh, empty, migrated analytical half (a new one on every call). */
  newStore: () => Promise<AnalyticalStore>;
}

/**
 * Runs the analytical contract alone, for an engine that keeps only that half (ClickHouse): the
 * same tests `runStoreContract` runs, and the same check that every method was called.
 */
export function runAnalyticalContract({ name, newStore }: AnalyticalContractOptions): void {
  const opened: { close(): Promise<void> }[] = [];
  afterEach(async () => {
    for (const s of opened.splice(0)) await s.close();
  });
  const open = async () => {
    const store = await newStore();
    opened.push(store);
    return store;
  };
  half({ name, parts: ANALYTICAL_METHODS, label: 'analytical half', newStore: open }, analyticalContract);
}

/**
 * One half's tests in a describe block: `open` gives a store that notes which listed methods were
 * called, and after the block every method of the half must have been (when every test ran).
 */
function half<S extends object>(
  {
    name,
    parts,
    label,
    newStore,
  }: { name: string; parts: MethodList; label: string; newStore: () => Promise<S> },
  body: (open: () => Promise<S>) => void,
): void {
  describe(`${name}: ${label}`, () => {
    const called = new Set<string>();
    body(async () => recording(await newStore(), parts, called));
    let everyTestRan = false;
    afterEach(({ task }) => {
      everyTestRan = task.suite?.tasks.every((t) => t.mode === 'run') ?? false;
    });
    afterAll(() => {
      // Every method of the half was exercised by some test above (checked when all of them ran).
      if (everyTestRan) expect(uncalled(parts, called)).toEqual([]);
    });
  });
}

/** Runs the analytical and metadata contracts and the whole-store operations against one engine. */
export function runStoreContract({ name, newStore, restore, scratchDir }: StoreContractOptions): void {
  const opened: { close(): Promise<void> }[] = [];
  afterEach(async () => {
    for (const s of opened.splice(0)) await s.close();
  });
  const halves = (parts: MethodList, label: string, body: (open: () => Promise<Store>) => void) =>
    half(
      {
        name,
        parts,
        label,
        newStore: async () => {
          const store = await newStore();
          opened.push(store);
          return store;
        },
      },
      body,
    );

  halves(ANALYTICAL_METHODS, 'analytical half', (open) =>
    analyticalContract(open as () => Promise<AnalyticalStore>),
  );
  halves(METADATA_METHODS, 'metadata half', (open) => metadataContract(open as () => Promise<MetadataStore>));
  halves(STORE_METHODS, 'whole store', (open) => {
    it('a backup image restores to a store with the same rows, chain and metadata', async () => {
      const store = await open();
      await store.meta.ensureProject({ id: 'p', name: 'P', strictTypes: false, createdAt: 1 });
      const rows = [0, 1, 2].map((i) => ({
        ...emptyRow(),
        id: idAt(1e12 + i),
        project: 'p',
        type: 't',
        ts: 1e12 + i,
        received_at: 1e12,
      }));
      const link = nextLink(null, rows, 1e12);
      await store.events.appendBatch({ rows, seal: () => ({ link, scrubbed: [] }) });
      const counts = await store.ops.rowCounts();
      expect(counts.events).toBe(3);
      // Two at once (the server may be asked twice): each is a whole image of its own.
      const [image, twin] = await Promise.all([
        store.ops.backup({ scratchDir: scratchDir() }),
        store.ops.backup({ scratchDir: scratchDir() }),
      ]);
      twin.discard();
      expect(twin).toMatchObject({ engine: store.engine, rowCounts: counts, chains: [link] });
      try {
        expect(image).toMatchObject({ engine: store.engine, rowCounts: counts, chains: [link] });
        expect(image.bytes).toBeGreaterThan(0);
        const copy = await restore(image.read());
        opened.push(copy);
        expect(await copy.ops.rowCounts()).toEqual(counts);
        expect(await copy.events.listEvents({ project: 'p', limit: 10 })).toEqual([...rows].reverse());
        expect(await copy.meta.getProject('p')).toEqual(await store.meta.getProject('p'));
      } finally {
        image.discard();
      }
    });

    it('exports events of a range to CSV with progress', async () => {
      const store = await open();
      const rows = [0, 1, 2].map((i) => ({
        ...emptyRow(),
        id: idAt(1e12 + i),
        project: 'p',
        type: 't',
        ts: 1e12 + i,
        received_at: 1e12,
      }));
      await store.events.appendBatch({
        rows,
        seal: () => ({ link: nextLink(null, rows, 1e12), scrubbed: [] }),
      });
      const out = join(scratchDir(), 'events.csv');
      const progress: number[] = [];
      const result = await store.ops.exportEvents(
        { from: 1e12 + 1, to: 1e12 + 10, format: 'csv', out },
        (done) => progress.push(done),
      );
      expect(result).toEqual({ rows: 2 });
      expect(progress.at(-1)).toBe(2);
      const lines = readFileSync(out, 'utf8').trim().split('\n');
      expect(lines).toHaveLength(3);
      expect(lines[1]).toContain(rows[1]?.id);
    });
  });
}
