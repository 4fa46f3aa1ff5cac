import { type Static, Type } from '@sinclair/typebox';
import type { SampleKind } from '../model/index.js';
import type { CollectContext, CollectedSample, Collector, CollectorOutput } from './framework.js';
import { credentialHeaders, httpGet } from './http.js';
import { detectFormat, type FamilyType, parseExposition } from './prometheus-text.js';
import { type PrometheusSpec, type ResolvedSpec, SPEC_DEFAULTS } from './spec.js';

export const PrometheusResult = Type.Object({
  url: Type.String(),
  format: Type.Union([Type.Literal('prometheus'), Type.Literal('openmetrics')]),
  families: Type.Integer({ minimum: 0 }),
  /** Series stored (after the limit). */
  series: Type.Integer({ minimum: 0 }),
  /** Series dropped by the per-target limit, whole families at a time. */
  dropped: Type.Integer({ minimum: 0 }),
  limitExceeded: Type.Boolean(),
  bytes: Type.Integer({ minimum: 0 }),
});
export type PrometheusResult = Static<typeof PrometheusResult>;

const KIND: Record<FamilyType, SampleKind> = {
  counter: 'counter',
  gauge: 'gauge',
  histogram: 'histogram',
  gaugehistogram: 'histogram',
  summary: 'summary',
  info: 'gauge',
  stateset: 'gauge',
  untyped: 'untyped',
};

const ACCEPT = 'application/openmetrics-text;version=1.0.0;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1';

/**
 * Scrapes one Prometheus (0.0.4) or OpenMetrics endpoint. Like Prometheus, it adds `job`
 * (the collector's name) and `instance` (host:port) to every series, renaming clashing labels to
 * `exported_job`/`exported_instance`, and writes `up` and `scrape_*` series of its own.
 */
export class PrometheusCollector implements Collector<PrometheusResult> {
  readonly resultSchema = PrometheusResult;
  readonly phase = 1;
  private readonly instance: string;

  constructor(readonly spec: ResolvedSpec & PrometheusSpec) {
    const u = new URL(spec.url);
    this.instance = u.host;
  }

  private target(): Record<string, string> {
    return { job: this.spec.name, instance: this.instance };
  }

  async collect(ctx: CollectContext): Promise<CollectorOutput<PrometheusResult>> {
    const t0 = performance.now();
    const answer = await httpGet(this.spec.url, {
      signal: ctx.signal,
      headers: { accept: ACCEPT, ...credentialHeaders(this.spec.credentials) },
    });
    if (answer.status < 200 || answer.status > 299)
      throw new Error(`the target answered HTTP ${answer.status}`);
    const contentType = answer.headers['content-type'];
    const format = detectFormat(typeof contentType === 'string' ? contentType : undefined, answer.body);
    const families = parseExposition(answer.body, format);
    const limit = this.spec.maxSeries ?? SPEC_DEFAULTS.maxSeries;
    const samples: CollectedSample[] = [];
    let dropped = 0;
    let kept = 0;
    for (const family of families) {
      if (kept + family.samples.length > limit) {
        dropped += family.samples.length;
        continue;
      }
      kept += family.samples.length;
      const kind = KIND[family.type];
      for (const s of family.samples) {
        const labels: Record<string, string> = {};
        for (const [k, v] of Object.entries(s.labels)) {
          labels[k === 'job' || k === 'instance' ? `exported_${k}` : k] = v;
        }
        Object.assign(labels, this.target());
        samples.push({
          name: s.name,
          labels,
          value: s.value,
          // OpenMetrics `_created` is a creation time, not a count.
          kind: s.name === `${family.name}_created` ? 'gauge' : kind,
          ...(s.timestampMs === undefined ? {} : { ts: s.timestampMs }),
        });
      }
    }
    const own = (name: string, value: number): CollectedSample => ({
      name,
      labels: this.target(),
      value,
      kind: 'gauge',
    });
    samples.push(
      own('up', 1),
      own('scrape_duration_seconds', (performance.now() - t0) / 1000),
      own('scrape_samples_scraped', kept + dropped),
      own('scrape_series_dropped', dropped),
    );
    return {
      result: {
        url: this.spec.url,
        format,
        families: families.length,
        series: kept,
        dropped,
        limitExceeded: dropped > 0,
        bytes: Buffer.byteLength(answer.body),
      },
      samples,
    };
  }

  failureSamples(): CollectedSample[] {
    return [{ name: 'up', labels: this.target(), value: 0, kind: 'gauge' }];
  }
}
