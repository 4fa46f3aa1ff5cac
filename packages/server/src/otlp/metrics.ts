/**
 * Metrics → metric samples, flattened the Prometheus way: a sum or gauge point is one sample;
 * a histogram point is `name_bucket{le=…}` (cumulative), `name_sum` and `name_count`; an
 * exponential histogram is turned into the same `le` buckets from its scale and offsets; a
 * summary is `name{quantile=…}`, `name_sum`, `name_count`.
 */
import type { IngestLimits } from '../config/index.js';
import { VigilError } from '../errors/index.js';
import { type ScrubPolicy, sensitiveValue } from '../ingest/index.js';
import type { MetricSample, SampleKind } from '../model/index.js';
import type { Int64, KeyValue, Metric, MetricsRequest } from './proto.js';
import { attributes, type ContentAttributes, int64, nanosToMs } from './values.js';

const CUMULATIVE = 2;
/** DataPointFlags.FLAG_NO_RECORDED_VALUE: a staleness marker, not a value. */
const NO_RECORDED_VALUE = 1;

export interface MetricMapping {
  project: string;
  receivedAt: number;
  limits: Pick<IngestLimits, 'futureToleranceMs' | 'maxAgeMs'>;
  privacy: ScrubPolicy;
  content: ContentAttributes;
  /** More samples than this from one request is refused (histograms multiply points). */
  maxSamples: number;
}

export interface MetricResult {
  samples: MetricSample[];
  points: number;
  rejected: number;
  errors: string[];
}

/** A Prometheus-safe metric name (`http.server.duration` → `http_server_duration`). */
export function metricName(name: string): string {
  const safe = name.replace(/[^a-zA-Z0-9_:]/g, '_');
  return /^[0-9]/.test(safe) ? `_${safe}` : safe;
}

function labelName(name: string): string {
  const safe = name.replace(/[^a-zA-Z0-9_]/g, '_');
  return /^[0-9]/.test(safe) ? `_${safe}` : safe;
}

export function metricsToSamples(request: MetricsRequest, m: MetricMapping): MetricResult {
  const result: MetricResult = { samples: [], points: 0, rejected: 0, errors: [] };
  const reject = (n: number, why: string) => {
    result.rejected += n;
    if (result.errors.length < 3) result.errors.push(why);
  };
  for (const rm of request.resourceMetrics ?? []) {
    const resource = attributes(rm.resource?.attributes);
    const base: Record<string, string> = {};
    const service = resource['service.name'];
    const namespace = resource['service.namespace'];
    if (typeof service === 'string')
      base.job = typeof namespace === 'string' ? `${namespace}/${service}` : service;
    const instance = resource['service.instance.id'];
    if (typeof instance === 'string') base.instance = instance;
    for (const sm of rm.scopeMetrics ?? []) {
      for (const metric of sm.metrics ?? []) {
        const name = metricName(metric.name ?? '');
        const points = pointsOf(metric);
        result.points += points;
        if (name === '') {
          reject(points, 'a metric without a name');
          continue;
        }
        const emit = (
          point: { attributes?: KeyValue[] | null; timeUnixNano?: Int64 | null; flags?: number | null },
          build: (labels: Record<string, string>, ts: number) => void,
        ) => {
          if (((point.flags ?? 0) & NO_RECORDED_VALUE) !== 0) return;
          const ts = nanosToMs(point.timeUnixNano) || m.receivedAt;
          if (ts > m.receivedAt + m.limits.futureToleranceMs || ts < m.receivedAt - m.limits.maxAgeMs) {
            reject(1, `${metric.name}: time ${new Date(ts).toISOString()} is outside the accepted range`);
            return;
          }
          build(labelsOf(base, point.attributes, m), Math.floor(ts));
        };
        const push = (
          suffix: string,
          labels: Record<string, string>,
          value: number,
          ts: number,
          kind: SampleKind,
        ) => {
          if (result.samples.length >= m.maxSamples) {
            throw new VigilError('too_many_events', {
              message: `The request makes more than ${m.maxSamples} samples (a histogram bucket is one each); split the export.`,
            });
          }
          result.samples.push({
            project: m.project,
            name: `${name}${suffix}`,
            labels,
            value,
            ts,
            kind,
            source: 'otlp',
            snapshotId: null,
          });
        };
        if (metric.gauge) {
          for (const p of metric.gauge.dataPoints ?? []) {
            emit(p, (labels, ts) => push('', labels, numberValue(p), ts, 'gauge'));
          }
        } else if (metric.sum) {
          // A monotonic cumulative sum is a Prometheus counter; a delta or up-down sum is a gauge.
          const kind: SampleKind =
            metric.sum.isMonotonic && metric.sum.aggregationTemporality === CUMULATIVE ? 'counter' : 'gauge';
          for (const p of metric.sum.dataPoints ?? []) {
            emit(p, (labels, ts) => push('', labels, numberValue(p), ts, kind));
          }
        } else if (metric.histogram) {
          for (const p of metric.histogram.dataPoints ?? []) {
            emit(p, (labels, ts) => {
              const bounds = p.explicitBounds ?? [];
              let cumulative = 0;
              (p.bucketCounts ?? []).forEach((c, i) => {
                cumulative += int64(c);
                const le = i < bounds.length ? String(bounds[i]) : '+Inf';
                push('_bucket', { ...labels, le }, cumulative, ts, 'histogram');
              });
              if ((p.bucketCounts ?? []).length <= bounds.length) {
                push('_bucket', { ...labels, le: '+Inf' }, int64(p.count), ts, 'histogram');
              }
              if (p.sum !== null && p.sum !== undefined) push('_sum', labels, p.sum, ts, 'histogram');
              push('_count', labels, int64(p.count), ts, 'histogram');
            });
          }
        } else if (metric.exponentialHistogram) {
          for (const p of metric.exponentialHistogram.dataPoints ?? []) {
            emit(p, (labels, ts) => {
              for (const [le, count] of exponentialBuckets(p)) {
                push('_bucket', { ...labels, le }, count, ts, 'histogram');
              }
              if (p.sum !== null && p.sum !== undefined) push('_sum', labels, p.sum, ts, 'histogram');
              push('_count', labels, int64(p.count), ts, 'histogram');
            });
          }
        } else if (metric.summary) {
          for (const p of metric.summary.dataPoints ?? []) {
            emit(p, (labels, ts) => {
              for (const q of p.quantileValues ?? []) {
                push('', { ...labels, quantile: String(q.quantile ?? 0) }, q.value ?? 0, ts, 'summary');
              }
              push('_sum', labels, p.sum ?? 0, ts, 'summary');
              push('_count', labels, int64(p.count), ts, 'summary');
            });
          }
        }
      }
    }
  }
  return result;
}

/** The data points of one metric, whatever its kind. */
export function pointsOf(metric: Metric): number {
  const data =
    metric.gauge ?? metric.sum ?? metric.histogram ?? metric.exponentialHistogram ?? metric.summary ?? null;
  return data?.dataPoints?.length ?? 0;
}

function numberValue(p: { asDouble?: number | null; asInt?: Int64 | null }): number {
  return p.asInt != null ? int64(p.asInt) : (p.asDouble ?? 0);
}

function labelsOf(
  base: Record<string, string>,
  list: KeyValue[] | null | undefined,
  m: MetricMapping,
): Record<string, string> {
  const labels = { ...base };
  const { attrs } = m.content.read(list);
  for (const [k, v] of Object.entries(attrs)) {
    const text = typeof v === 'string' ? v : JSON.stringify(v);
    // The same privacy rules as event props: deny-listed names and personal-looking values stay out.
    if (m.privacy.denyList.has(k.toLowerCase()) || sensitiveValue(text, m.privacy)) continue;
    labels[labelName(k)] = text;
  }
  return labels;
}

/**
 * Cumulative `le` buckets of an exponential histogram point: bucket i of scale s covers
 * (base^(offset+i), base^(offset+i+1)] with base = 2^(2^-s); negative buckets mirror that.
 */
export function exponentialBuckets(p: {
  scale?: number | null;
  zeroCount?: Int64 | null;
  count?: Int64 | null;
  positive?: { offset?: number | null; bucketCounts: Int64[] } | null;
  negative?: { offset?: number | null; bucketCounts: Int64[] } | null;
}): [string, number][] {
  const base = 2 ** (2 ** -(p.scale ?? 0));
  const out: [string, number][] = [];
  let cumulative = 0;
  const neg = p.negative?.bucketCounts ?? [];
  const negOffset = p.negative?.offset ?? 0;
  // Most negative first: bucket i holds values in [-base^(offset+i+1), -base^(offset+i)).
  for (let i = neg.length - 1; i >= 0; i--) {
    cumulative += int64(neg[i]);
    out.push([String(-(base ** (negOffset + i))), cumulative]);
  }
  cumulative += int64(p.zeroCount);
  out.push(['0', cumulative]);
  const pos = p.positive?.bucketCounts ?? [];
  const posOffset = p.positive?.offset ?? 0;
  pos.forEach((c, i) => {
    cumulative += int64(c);
    out.push([String(base ** (posOffset + i + 1)), cumulative]);
  });
  out.push(['+Inf', int64(p.count)]);
  return out;
}
