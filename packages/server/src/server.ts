import { statfs } from 'node:fs/promises';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import { AlertEngine } from './alerts/index.js';
import { RetentionJob, RollupMaintainer } from './analytics/index.js';
import { type AppContext, buildApp, ProjectCache } from './api/index.js';
import { Checkpointer, DEFAULT_CHAIN, loadOrCreateSigningKey, readCheckpoints } from './audit/index.js';
import { Authenticator, type Bootstrap, bootstrap, LoginThrottle, RateLimiter } from './auth/index.js';
import { CollectorOrchestrator } from './collectors/index.js';
import { type Config, checkpointPaths } from './config/index.js';
import { HealthMonitor } from './health/index.js';
import { GroupCommitter, scrubPolicy } from './ingest/index.js';
import { createSelfMetrics, observeCommit } from './ops/index.js';
import { PriceCatalog } from './pricing/index.js';
import { openStore, RecoveringStore } from './store/index.js';

/** Free disk the store needs before it counts as writable again after a failure. */
const MIN_FREE_BYTES = 16 * 1024 * 1024;

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
  ctx: AppContext,
  log: FastifyInstance['log'],
  checkpoint: { seq: number } | null,
): Promise<void> {
  if (checkpoint !== null || (await ctx.store.events.chainExpiries()).length > 0) return;
  const { batches } = await ctx.committer.adoptExpiredMarks();
  if (batches > 0) log.info({ batches }, 'batches expired by an earlier release recorded in the audit chain');
}

/**
 * Starts the committer at the chain head (after the last checkpoint when the store lost batches)
 * and the checkpointer that signs the head from then on; null when checkpoints are off.
 */
async function startCheckpoints(
  config: Config,
  ctx: AppContext,
  log: FastifyInstance['log'],
): Promise<Checkpointer | null> {
  if (!config.checkpoints.enabled) {
    const { storeHeadSeq } = await ctx.committer.start();
    await adoptExpiredMarks(ctx, log, null);
    await ctx.rollups.start(storeHeadSeq);
    return null;
  }
  const { file, keyFile } = checkpointPaths(config);
  const key = loadOrCreateSigningKey(keyFile);
  const kept = file ? await readCheckpoints(file, key) : null;
  if (kept && kept.badLines.length > 0)
    log.error({ file, lines: kept.badLines }, 'checkpoint file lines not signed by this key are ignored');
  const last = kept?.latest.get(DEFAULT_CHAIN) ?? null;
  const { behindCheckpoint, storeHeadSeq } = await ctx.committer.start(last);
  await adoptExpiredMarks(ctx, log, last);
  await ctx.rollups.start(storeHeadSeq);
  const { webhookUrl, webhookToken, webhookTimeoutMs, intervalMs } = config.checkpoints;
  const checkpointer = new Checkpointer({
    chain: DEFAULT_CHAIN,
    head: () => ctx.committer.chainHead,
    key,
    file,
    webhook: webhookUrl ? { url: webhookUrl, token: webhookToken, timeoutMs: webhookTimeoutMs } : null,
    intervalMs,
    last,
    log,
    onFailure: (target) => ctx.metrics.checkpointFailures.inc({ target }),
  });
  ctx.metrics.observeAudit({
    chain: DEFAULT_CHAIN,
    headSeq: () => ctx.committer.headSeq,
    checkpoint: () => checkpointer.latest,
    behindCheckpoint,
  });
  checkpointer.start();
  return checkpointer;
}

export async function startServer(config: Config): Promise<RunningServer> {
  const state: AppContext['state'] = { ready: false, shuttingDown: false, storeProblem: null };
  // Told of store trouble before the app's logger exists only if opening fails (then it throws).
  let log: Pick<FastifyBaseLogger, 'warn' | 'info'> | null = null;
  const recovering = await RecoveringStore.open({
    open: () => openStore({ dataDir: config.dataDir, ...config.store, migrate: true }),
    probe: () => freeSpace(config.dataDir),
    retryMs: config.store.recoveryMs,
    log: { warn: (o, m) => log?.warn(o, m), info: (o, m) => log?.info(o, m) },
    onChange: (problem) => {
      state.storeProblem = problem;
    },
  });
  const store = recovering.store;
  let onClose: () => Promise<void> | undefined = () => undefined;
  try {
    const boot = await bootstrap(store.meta, config.adminPassword);
    const ctx: AppContext = {
      config,
      store,
      auth: new Authenticator(store.meta, config.adminToken),
      // Created below, once the app's logger exists.
      committer: undefined as unknown as GroupCommitter,
      health: undefined as unknown as HealthMonitor,
      collectors: undefined as unknown as CollectorOrchestrator,
      alerts: undefined as unknown as AlertEngine,
      rollups: undefined as unknown as RollupMaintainer,
      retention: undefined as unknown as RetentionJob,
      privacy: scrubPolicy(config.privacy),
      limiters: {
        ingest: new RateLimiter(config.rateLimits.ingest.ratePerSec, config.rateLimits.ingest.burst),
        read: new RateLimiter(config.rateLimits.read.ratePerSec, config.rateLimits.read.burst),
        login: new LoginThrottle(config.rateLimits.loginPerMinute),
      },
      projects: new ProjectCache(store),
      prices: new PriceCatalog(store.meta, config.llm.prices),
      state,
      metrics: createSelfMetrics(),
    };
    const app = buildApp(ctx);
    log = app.log.child({ component: 'store' });
    ctx.health = new HealthMonitor({
      store,
      config: config.health,
      ingest: config.ingest,
      log: app.log.child({ component: 'health' }),
    });
    ctx.rollups = new RollupMaintainer(store, { log: app.log });
    ctx.committer = new GroupCommitter(store.events, {
      maxInFlightEvents: config.ingest.maxInFlightEvents,
      maxCommitEvents: config.ingest.maxCommitEvents,
      log: app.log,
      recordRejections: (counts) => store.health.addRejections(counts),
      onCommitted: (link, rows) => ctx.rollups.onCommitted(link, rows),
      observeCommit: (c) => observeCommit(ctx.metrics, c),
    });
    const checkpointer = await startCheckpoints(config, ctx, app.log.child({ component: 'audit' }));
    onClose = () => checkpointer?.stop();
    ctx.alerts = new AlertEngine({
      store,
      rollups: ctx.rollups,
      health: ctx.health,
      config: config.alerts,
      log: app.log.child({ component: 'alerts' }),
      onEvaluated: (result, count) => {
        if (count > 0) ctx.metrics.ruleEvaluations.inc({ result }, count);
      },
    });
    await ctx.alerts.load();
    ctx.retention = new RetentionJob(store, config.retention, {
      log: app.log,
      onDeleted: () => ctx.rollups.cache.clear(),
      expireEvents: (project, before) => ctx.committer.expire(project, before),
      runRetentionDays: config.telemetry.runRetentionDays,
    });
    ctx.retention.start();
    ctx.collectors = new CollectorOrchestrator({
      store,
      log: app.log.child({ component: 'collectors' }),
      configured: config.telemetry.collectors,
      secretKey: config.secretKey,
      schedule: config.telemetry.enabled,
      metrics: ctx.metrics,
    });
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
          await onClose();
          await ctx.collectors.stop();
          await ctx.alerts.stop();
          await ctx.health.stop();
          await ctx.retention.stop();
          await ctx.rollups.stop();
          await store.close();
        })()),
    };
  } catch (err) {
    await onClose();
    await store.close();
    throw err;
  }
}
