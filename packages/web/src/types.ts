/** The shapes of the server's answers that the dashboard reads (README "API"). */
export interface LatencyStats {
  average: number | null;
  median: number | null;
  p95: number | null;
  p99: number | null;
  min: number | null;
  max: number | null;
  count: number;
}

export interface Current {
  window: string;
  requestRate: { total: number; perMinute: number; perHour: number; perDay: number };
  totalLatency: LatencyStats;
  contextLatency: LatencyStats;
  llmLatency: LatencyStats;
  tokens: {
    totalTokens: number;
    promptTokens: number;
    completionTokens: number;
    byUser: Record<string, number>;
    byUserOthers: number;
    bySpace: Record<string, number>;
    averagePerRequest: number | null;
  };
  errors: {
    totalErrorRate: number | null;
    errorRateByType: Record<string, number>;
    errorCountByType: Record<string, number>;
    totalErrors: number;
    totalRequests: number;
    spike: { detected: boolean } & Record<string, unknown>;
  };
  cacheHitRate: {
    overall: number | null;
    hits: number;
    misses: number;
    bySpace: Record<string, number | null>;
  };
  cost: Cost;
}

/** `/api/metrics/current`'s cost (docs/llm-cost.md); unpriced counts are null over a custom range. */
export interface Cost {
  totalUsd: number;
  averagePerRequest: number | null;
  pricedRequests: number | null;
  byUser: Record<string, number>;
  bySpace: Record<string, number>;
  byModel: Record<string, number>;
  unpricedRequests: number | null;
  unpricedModels: Record<string, number>;
}

/** One entry of `GET /api/llm/prices`. */
export interface PriceEntry {
  model: string;
  match: 'exact' | 'pattern';
  inputPerMillion: number;
  outputPerMillion: number;
  cacheReadPerMillion: number | null;
  effectiveFrom: string;
  source: 'default' | 'config' | 'project';
  reference?: { url: string; date: string };
}

export interface MetricPoint {
  timestamp: string;
  value: number | null;
  metadata: Record<string, unknown>;
}

export interface DecisionStats {
  acceptanceRate: number | null;
  overrideRate: number | null;
  averageDecisionTimeMs: number | null;
  falsePositiveRate: number | null;
  outcomeDistribution: Record<string, number>;
  counts: { accepted: number; overridden: number; ignored: number; viewed: number; outcomes: number };
}

export interface DecisionSummary extends DecisionStats {
  window: string;
  groupBy?: string;
  groups?: Record<string, DecisionStats>;
}

export interface EventView {
  id: string;
  type: string;
  ts: string;
  receivedAt?: string;
  version: string | null;
  props: Record<string, unknown>;
  [key: string]: unknown;
}
