/**
 * The shapes of the API's answers, derived from the code that makes them and written once: the
 * dashboard (packages/web/src/types.ts) imports these types, so a changed answer is a type error
 * there rather than a blank panel.
 */
import type { AlertEngine, alertView, metricCatalog, receiverView, ruleView } from '../alerts/index.js';
import type { decisionSummary, errorSpike, llmSnapshot } from '../analytics/index.js';

export type { AlertView } from '../alerts/index.js';
export type { LatencyStats, MetricDataPoint as MetricPoint } from '../analytics/index.js';
export type { EventView } from '../model/index.js';

type Snapshot = Awaited<ReturnType<typeof llmSnapshot>>;

/** `GET /api/metrics/current`. */
export type Current = Snapshot & {
  window: string;
  errors: Snapshot['errors'] & { spike: Awaited<ReturnType<typeof errorSpike>> };
};

/** `/api/metrics/current`'s cost (docs/llm-cost.md). */
export type Cost = Current['cost'];

/** One entry of `GET /api/llm/prices`. */
export type { PriceView as PriceEntry } from '../pricing/index.js';

/** `GET /api/metrics/decisions`. */
export type DecisionSummary = Awaited<ReturnType<typeof decisionSummary>> & { window: string };

/** The figures of one group of decisions (the summary's own, and each of `groups`). */
export type DecisionStats = Omit<DecisionSummary, 'window' | 'groupBy' | 'groups'>;

/** An alert of `GET /api/metrics/alerts` (active and history) and `GET /api/metrics/alerts/:id`. */
export type AlertAnswer = ReturnType<typeof alertView>;

/** A rule of `GET /api/alerts/rules`, with its live status. */
export type RuleAnswer = ReturnType<typeof ruleView> & { status: ReturnType<AlertEngine['ruleStatus']> };

/** A receiver as the API shows it (its secret never, only whether one is set). */
export type ReceiverAnswer = ReturnType<typeof receiverView>;

/** One entry of `GET /api/alerts/metrics`. */
export type AlertMetricInfo = ReturnType<typeof metricCatalog>[number];
