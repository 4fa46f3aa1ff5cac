/**
 * A metric sample: one value of one series (name + labels) at one time. Collectors, OTLP
 * metrics and the deployments webhook all write these; histograms and summaries arrive
 * flattened the Prometheus way (`name_bucket{le=…}`, `name_sum`, `name_count`, `quantile=…`).
 */
export type SampleKind = 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';

export const SAMPLE_KINDS: readonly SampleKind[] = ['counter', 'gauge', 'histogram', 'summary', 'untyped'];

export interface MetricSample {
  project: string;
  name: string;
  labels: Readonly<Record<string, string>>;
  value: number;
  /** Epoch ms. */
  ts: number;
  kind: SampleKind;
  /** Where it came from: `otlp`, `collector:<name>`, `webhook:deployments`, … */
  source: string;
  /** The collection run that produced it, for collector samples. */
  snapshotId: string | null;
}

/** The canonical text of a label set (keys sorted), the series' identity within a name. */
export function labelsKey(labels: Readonly<Record<string, string>>): string {
  const sorted: Record<string, string> = {};
  for (const k of Object.keys(labels).sort()) sorted[k] = String(labels[k]);
  return JSON.stringify(sorted);
}
