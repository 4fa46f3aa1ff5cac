import type { MetricSample, SampleKind } from '../model/index.js';
import { labelsKey } from '../model/index.js';
import type { SampleResolution } from './types.js';

const RESOLUTIONS: readonly { res: SampleResolution; ms: number }[] = [
  { res: '1m', ms: 60_000 },
  { res: '1h', ms: 3_600_000 },
  { res: '1d', ms: 86_400_000 },
];

export interface RollupDelta {
  project: string;
  name: string;
  labels: string;
  res: SampleResolution;
  bucket: number;
  kind: SampleKind;
  count: number;
  sum: number;
  min: number;
  max: number;
  lastTs: number;
  lastValue: number;
}

/**
 * The rollup deltas of one append: per series and bucket of each resolution, count, sum, min,
 * max and the newest value of the finite samples. Rows are deltas (append-only); rows that share
 * a key are merged at read time and by `compactRollups`, so writers never read-modify-write.
 */
export function rollupDeltas(
  samples: readonly MetricSample[],
  keys: readonly string[] = samples.map((s) => labelsKey(s.labels)),
): RollupDelta[] {
  const cells = new Map<string, RollupDelta>();
  for (let i = 0; i < samples.length; i++) {
    const s = samples[i] as MetricSample;
    if (!Number.isFinite(s.value)) continue;
    const labels = keys[i] as string;
    for (const { res, ms } of RESOLUTIONS) {
      const bucket = Math.floor(s.ts / ms) * ms;
      const key = `${s.project}\u0000${s.name}\u0000${labels}\u0000${res}\u0000${bucket}`;
      const cell = cells.get(key);
      if (!cell) {
        cells.set(key, {
          project: s.project,
          name: s.name,
          labels,
          res,
          bucket,
          kind: s.kind,
          count: 1,
          sum: s.value,
          min: s.value,
          max: s.value,
          lastTs: s.ts,
          lastValue: s.value,
        });
        continue;
      }
      cell.count += 1;
      cell.sum += s.value;
      if (s.value < cell.min) cell.min = s.value;
      if (s.value > cell.max) cell.max = s.value;
      if (s.ts >= cell.lastTs) {
        cell.lastTs = s.ts;
        cell.lastValue = s.value;
        cell.kind = s.kind;
      }
    }
  }
  return [...cells.values()];
}
