import type {
  AccountStore,
  AlertStore,
  CollectorStore,
  EventStore,
  HealthStore,
  LeaseStore,
  Migrator,
  NoticeStore,
  OpsStore,
  RollupStore,
  SampleStore,
  SnapshotStore,
} from '../types.js';

type Methods<T> = Record<keyof T, true>;

/**
 * Every method of the analytical half, part by part. The type checker holds these lists equal to
 * the interfaces (a method added or removed there fails to compile here), and the contract suite
 * fails when one of them was never called: an engine that passes the suite implements all of them.
 */
export const ANALYTICAL_METHODS = {
  events: {
    chainHead: true,
    chainLink: true,
    chains: true,
    findExistingIds: true,
    appendBatch: true,
    prepareAppend: true,
    listEvents: true,
    aggregateRaw: true,
    countEvents: true,
    scrubCounts: true,
    readCommitted: true,
    readChain: true,
    lastBatchesBefore: true,
    expire: true,
    discardUnchained: true,
    adoptExpiredMarks: true,
    chainExpiries: true,
  } satisfies Methods<EventStore>,
  rollups: {
    watermark: true,
    write: true,
    read: true,
    sumWindows: true,
    readGroups: true,
    signals: true,
    expire: true,
    compact: true,
    reprice: true,
  } satisfies Methods<RollupStore>,
  samples: {
    append: true,
    list: true,
    series: true,
    expire: true,
    history: true,
    compactRollups: true,
    expireRollups: true,
  } satisfies Methods<SampleStore>,
  health: {
    addRejections: true,
    rejections: true,
    typeStats: true,
    countReceived: true,
    dailyTotals: true,
    sample: true,
    recommendedSignals: true,
    firstEventTs: true,
  } satisfies Methods<HealthStore>,
  migrations: { status: true, up: true, down: true } satisfies Methods<Migrator>,
};

/** Every method of the metadata half, part by part (held equal to the interfaces as above). */
export const METADATA_METHODS = {
  meta: {
    getProject: true,
    listProjects: true,
    ensureProject: true,
    updateProject: true,
    insertKey: true,
    getKey: true,
    listKeys: true,
    revokeKey: true,
    insertUser: true,
    getUserByName: true,
    getUser: true,
    listUsers: true,
    countUsers: true,
    insertSession: true,
    getSession: true,
    deleteSession: true,
    deleteUserSessions: true,
    userProjectRoles: true,
    setUserRoles: true,
    setUserPassword: true,
    getIdentity: true,
    listIdentities: true,
    insertUserWithIdentity: true,
    setIdentityEmail: true,
    appendAccountEvent: true,
    accountEvents: true,
    lastSignIns: true,
    llmPrices: true,
    putLlmPrices: true,
  } satisfies Methods<AccountStore>,
  snapshots: { append: true, list: true } satisfies Methods<SnapshotStore>,
  alerts: {
    rules: true,
    rule: true,
    putRule: true,
    deleteRule: true,
    settings: true,
    putReceivers: true,
    createDefaults: true,
    states: true,
    writeCycle: true,
    alerts: true,
    alert: true,
    acknowledge: true,
    transitions: true,
    silences: true,
    putSilence: true,
    deleteSilence: true,
  } satisfies Methods<AlertStore>,
  collectors: {
    listCollectors: true,
    insertCollector: true,
    deleteCollector: true,
    recordRuns: true,
    latest: true,
    runs: true,
    forgetLatest: true,
    expireRuns: true,
    insertDeployment: true,
    deployments: true,
    publicEnabled: true,
    setPublicEnabled: true,
  } satisfies Methods<CollectorStore>,
  leases: { take: true, renew: true, release: true, get: true } satisfies Methods<LeaseStore>,
  notices: { publish: true, subscribe: true } satisfies Methods<NoticeStore>,
  migrations: { status: true, up: true, down: true } satisfies Methods<Migrator>,
};

/** Operations on the whole store (beside the halves). */
export const STORE_METHODS = {
  ops: { backup: true, rowCounts: true, exportEvents: true } satisfies Methods<OpsStore>,
};

export type MethodList = Record<string, Record<string, true>>;

/**
 * Wraps a store so that every call of a listed method is noted in `called` (as `part.method`);
 * other properties pass through untouched.
 */
export function recording<S extends object>(store: S, parts: MethodList, called: Set<string>): S {
  return new Proxy(store, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver) as unknown;
      const methods = typeof prop === 'string' ? parts[prop] : undefined;
      if (!methods || typeof value !== 'object' || value === null) return value;
      const part = value as Record<string, unknown>;
      return new Proxy(part, {
        get(p, name) {
          const member = Reflect.get(p, name) as unknown;
          if (typeof name !== 'string' || !(name in methods) || typeof member !== 'function') return member;
          return (...args: unknown[]) => {
            called.add(`${String(prop)}.${name}`);
            return (member as (...a: unknown[]) => unknown).apply(p, args);
          };
        },
      });
    },
  });
}

/** The listed methods that were never called. */
export function uncalled(parts: MethodList, called: ReadonlySet<string>): string[] {
  return Object.entries(parts).flatMap(([part, methods]) =>
    Object.keys(methods)
      .map((m) => `${part}.${m}`)
      .filter((name) => !called.has(name)),
  );
}
