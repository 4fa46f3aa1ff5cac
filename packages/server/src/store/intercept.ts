import type { Store } from './types.js';

/** The parts of a store whose methods are intercepted (every part of `Store`). */
export const STORE_PARTS = [
  'events',
  'meta',
  'snapshots',
  'migrations',
  'ops',
  'rollups',
  'health',
  'samples',
  'alerts',
  'collectors',
  'leases',
  'notices',
] as const satisfies readonly (keyof Store)[];

export type StorePart = (typeof STORE_PARTS)[number];

/** One call into a store part, as an interceptor sees it. */
export interface StoreCall {
  part: StorePart;
  method: string;
  /** Makes the call on the store the interceptor gives it (the current one by default). */
  invoke: (target?: Store) => unknown;
}

/**
 * A store whose every part-method call goes through `around`, over whichever store `current()`
 * returns at the time of the call. Engine-neutral: it sees the `Store` interface only, so the
 * same wrapper serves fault injection in tests and reopening after the engine fails.
 * Parts are stable objects: callers may keep `store.events` while the store beneath changes.
 */
export function interceptStore(
  current: () => Store,
  around: (call: StoreCall) => unknown,
  top: Pick<Store, 'sizeBytes' | 'close'> = {
    sizeBytes: () => current().sizeBytes(),
    close: () => current().close(),
  },
): Store {
  const parts = Object.fromEntries(
    STORE_PARTS.map((part) => [
      part,
      new Proxy(
        {},
        {
          get(_target, method) {
            const value = (current()[part] as unknown as Record<PropertyKey, unknown>)[method];
            if (typeof value !== 'function' || typeof method !== 'string') return value;
            return (...args: unknown[]) =>
              around({
                part,
                method,
                invoke: (target = current()) => {
                  const self = target[part] as unknown as Record<string, (...a: unknown[]) => unknown>;
                  return (self[method] as (...a: unknown[]) => unknown).apply(self, args);
                },
              });
          },
        },
      ),
    ]),
  );
  return {
    get engine() {
      return current().engine;
    },
    get schemas() {
      return current().schemas;
    },
    get shared() {
      return current().shared;
    },
    ...(parts as Pick<Store, StorePart>),
    sizeBytes: top.sizeBytes,
    close: top.close,
  };
}
