import { statfs } from 'node:fs/promises';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import { AlertEngine } from './alerts/index.js';
import { RetentionJob, RollupMaintainer, spansOf } from './analytics/index.js';
import { type AppContext, buildApp, createLogger, ProjectCache } from './api/index.js';
import { Checkpointer, DEFAULT_CHAIN, loadOrCreateSigningKey, readCheckpoints } from './audit/index.js';
import { Authenticator, type Bootstrap, bootstrap, LoginThrottle, RateLimiter } from './auth/index.js';
import { ClusterCommits } from './cluster/commits.js';
import { SchedulerLease } from './cluster/lease.js';
import { CollectorOrchestrator } from './collectors/index.js';
import { type Config, checkpointPaths } from './config/index.js';
import { HealthMonitor } from './health/index.js';
import { GroupCommitter, scrubPolicy } from './ingest/index.js';
import { collectWhenQuiet, createSelfMetrics, observeCommit } from './ops/index.js';
import { PriceCatalog } from './pricing/index.js';
import { openStore, RecoveringStore, type Store, storeIsLocal } from './store/index.js';

/** Free disk the store needs before it counts as writable again after a failure. */
const MIN_FREE_BYTES = 16 * 1024 * 1024;
/**
 * How often rollups are written when other instances share the store: they read this instance's
 * deltas only once written (a notice then tells them to drop their cached tiles), so an event
 * acknowledged here is in their answers within this plus a notice's delay, under 1 s.
 */
const SHARED_FLUSH_MS = 500;

async function freeSpace(dataDir: string): Promise<void> {
  const fs = await statfs(dataDir);
  const free = fs.bavail * fs.bsize;
  if (free < MIN_FREE_BYTES) {
    throw new Error(
      `only ${(free / 1048576).toFixed(1)} MB free on the disk of ${dataDir}; writes resume once ${MIN_FREE_BYTES / 1048576} MB are free`,
    );
  }
}

export interface RunningServer {
  url: string;
  app: FastifyInstance;
  context: AppContext;
  bootstrap: Bootstrap;
  /** Stops accepting, finishes in-flight requests and their commits, closes the store. */
  close(): Promise<void>;
}

/**
 * Earlier releases marked batches that lost events to retention in a table `vigil verify` trusted.
 * On the first start of this release (no checkpoint yet, no expiry in the chain) those marks become
 * one expiry link; after that a mark means nothing, so marking a batch cannot hide an edit.
 */
async function adoptExpiredMarks(
  store: Store,
  committer: GroupCommitter,
  log: FastifyBaseLogger,
  checkpoint: { seq: number } | null,
): Promise<void> {
  // Only stores of releases with one chain have marks, and that chain is the default one.
  if (committer.chain !== DEFAULT_CHAIN || checkpoint !== null) return;
  if ((await store.events.chainExpiries()).length > 0) return;
  const { batches } = await committer.adoptExpiredMarks();
  if (batches > 0) log.info({ batches }, 'batches expired by an earlier release recorded in the audit chain');
}

/**
 * Starts the committer at the chain head (after the last checkpoint when the store lost batches),
 * the rollup maintainer after it, and the checkpointer that signs the head from then on; null
 * when checkpoints are off.
 */
async function startChain(
  config: Config,
  { store, committer, rollups, metrics }: Pick<AppContext, 'store' | 'committer' | 'rollups' | 'metrics'>,
  log: FastifyBaseLogger,
): Promise<Checkpointer | null> {
  if (!config.checkpoints.enabled) {
    const { storeHeadSeq } = await committer.start();
    await adoptExpiredMarks(store, committer, log, null);
    await rollups.start(storeHeadSeq);
    return null;
  }
  const { file, keyFile } = checkpointPaths(config);
  const key = loadOrCreateSigningKey(keyFile);
  const kept = file ? await readCheckpoints(file, key) : null;
  if (kept && kept.badLines.length > 0)
    log.error({ file, lines: kept.badLines }, 'checkpoint file lines not signed by this key are ignored');
  const chain = committer.chain;
  const last = kept?.latest.get(chain) ?? null;
  const { behindCheckpoint, storeHeadSeq } = await committer.start(last);
  await adoptExpiredMarks(store, committer, log, last);
  await rollups.start(storeHeadSeq);
  const { webhookUrl, webhookToken, webhookTimeoutMs, intervalMs } = config.checkpoints;
  const checkpointer = new Checkpointer({
    chain,
    head: () => committer.chainHead,
    key,
    file,
    webhook: webhookUrl ? { url: webhookUrl, token: webhookToken, timeoutMs: webhookTimeoutMs } : null,
    intervalMs,
    last,
    log,
    onFailure: (target) => metrics.checkpointFailures.inc({ target }),
  });
  metrics.observeAudit({
    chain,
    headSeq: () => committer.headSeq,
    checkpoint: () => checkpointer.latest,
    behindCheckpoint,
  });
  checkpointer.start();
  return checkpointer;
}

export async function startServer(config: Config): Promise<RunningServer> {
  const state: AppContext['state'] = { ready: false, shuttingDown: false, storeProblem: null };
  const logger = createLogger(config.logLevel);
  const log = (component: string) => logger.child({ component });
  const recovering = await RecoveringStore.open({
    open: () => openStore({ dataDir: config.dataDir, ...config.store, migrate: true }),
    // A store on database servers has no local disk to watch.
    ...(storeIsLocal(config.store) ? { probe: () => freeSpace(config.dataDir) } : {}),
    retryMs: config.store.recoveryMs,
    log: log('store'),
    onChange: (problem) => {
      state.storeProblem = problem;
    },
  });
  const store = recovering.store;
  // What to stop after the jobs, newest first (also when starting fails part way).
  const stopping: (() => Promise<unknown>)[] = [];
  const onClose = async () => {
    for (const stop of stopping.splice(0).reverse()) await stop();
  };
  try {
    const boot = await bootstrap(store.meta, config.adminPassword);
    // Each part is built once what it needs exists; the context is complete before any route.
    const metrics = createSelfMetrics();
    // Work that runs once per cluster runs where the scheduler lease is (alone: here, at once).
    let alerts: AlertEngine | null = null;
    const turn = new SchedulerLease(store.leases, {
      instanceId: config.instanceId,
      log: log('cluster'),
      // Another instance may have changed rules and their state while it held the lease.
      onAcquired: async () => void (await alerts?.load()),
    });
    await turn.start();
    stopping.push(() => turn.stop());
    const health = new HealthMonitor({
      store,
      config: config.health,
      ingest: config.ingest,
      log: log('health'),
      turn,
    });
    const commits = new ClusterCommits(store.notices, {
      instanceId: config.instanceId,
      log: log('cluster'),
      onRollups: (spans) => (spans === null ? rollups.cache.clear() : rollups.cache.forget(spans)),
    });
    const rollups = new RollupMaintainer(store, {
      chain: config.instanceId,
      log: logger,
      turn,
      // Shared: another instance sees this one's deltas only once written (1 s after the ack at most).
      ...(store.shared.analytical ? { flushIntervalMs: SHARED_FLUSH_MS } : {}),
      onWritten: (rows) => commits.rollupsWritten(spansOf(rows)),
    });
    await commits.start();
    stopping.push(() => commits.close());
    const committer = new GroupCommitter(store.events, {
      chain: config.instanceId,
      maxInFlightEvents: config.ingest.maxInFlightEvents,
      maxCommitEvents: config.ingest.maxCommitEvents,
      log: logger,
      recordRejections: (counts) => store.health.addRejections(counts),
      onCommitted: (link, rows) => {
        rollups.onCommitted(link, rows);
        commits.committed(new Set(rows.map((r) => r.project)));
      },
      observeCommit: (c) => observeCommit(metrics, c),
    });
    // An idle server gives back the heap a load left behind (see collectWhenQuiet).
    const stopCollecting = collectWhenQuiet({ activity: () => committer.stats.commits });
    stopping.push(async () => stopCollecting());
    const checkpointer = await startChain(config, { store, committer, rollups, metrics }, log('audit'));
    if (checkpointer) stopping.push(() => checkpointer.stop());
    alerts = new AlertEngine({
      store,
      rollups,
      health,
      config: config.alerts,
      log: log('alerts'),
      onEvaluated: (result, count) => {
        if (count > 0) metrics.ruleEvaluations.inc({ result }, count);
      },
      turn,
    });
    await alerts.load();
    const retention = new RetentionJob(store, config.retention, {
      log: logger,
      onDeleted: () => {
        rollups.cache.clear();
        commits.rollupsWritten(null);
      },
      expireEvents: (project, before) => committer.expire(project, before),
      runRetentionDays: config.telemetry.runRetentionDays,
      turn,
    });
    const collectors = new CollectorOrchestrator({
      store,
      log: log('collectors'),
      configured: config.telemetry.collectors,
      secretKey: config.secretKey,
      schedule: config.telemetry.enabled,
      metrics,
      turn,
      // Shared: collectors added or removed on another instance are taken in within a second.
      ...(store.shared.metadata ? { syncMs: 1_000 } : {}),
    });
    const ctx: AppContext = {
      config,
      store,
      auth: new Authenticator(store.meta, config.adminToken),
      committer,
      commits,
      health,
      collectors,
      alerts,
      rollups,
      retention,
      privacy: scrubPolicy(config.privacy),
      limiters: {
        ingest: new RateLimiter(config.rateLimits.ingest.ratePerSec, config.rateLimits.ingest.burst),
        read: new RateLimiter(config.rateLimits.read.ratePerSec, config.rateLimits.read.burst),
        login: new LoginThrottle(config.rateLimits.loginPerMinute),
      },
      projects: new ProjectCache(store),
      // Shared: another instance may change a project's prices; read them again after a second.
      prices: new PriceCatalog(store.meta, config.llm.prices, store.shared.metadata ? 1_000 : undefined),
      state,
      metrics,
    };
    const app = buildApp(ctx, logger);
    retention.start();
    await ctx.collectors.start();
    await app.listen({ host: config.host, port: config.port });
    state.ready = true;
    ctx.health.start();
    const address = app.server.address();
    const port = typeof address === 'object' && address ? address.port : config.port;
    const host = config.host.includes(':') ? `[${config.host}]` : config.host;
    if (!config.alerts.externalUrl) ctx.alerts.externalUrl = `http://${host}:${port}`;
    ctx.alerts.start();

    let closing: Promise<void> | null = null;
    return {
      url: `http://${host}:${port}`,
      app,
      context: ctx,
      bootstrap: boot,
      close: () =>
        (closing ??= (async () => {
          state.shuttingDown = true;
          // Connections that go idle after close begins would otherwise hold it for the keep-alive timeout.
          const sweep = setInterval(() => app.server.closeIdleConnections(), 50);
          try {
            await app.close();
          } finally {
            clearInterval(sweep);
          }
          await ctx.committer.close();
          await ctx.collectors.stop();
          await ctx.alerts.stop();
          await ctx.health.stop();
          await ctx.retention.stop();
          await ctx.rollups.stop();
          // The last checkpoint, then the scheduler lease freed for another instance at once.
          await onClose();
          await store.close();
        })()),
    };
  } catch (err) {
    await onClose();
    await store.close();
    throw err;
  }
}
