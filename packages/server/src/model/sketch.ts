import { DDSketch } from '@datadog/sketches-js';

/** DDSketch relative accuracy: every percentile is within 1% of the exact value. */
export const RELATIVE_ACCURACY = 0.01;
const FORMAT = 1;

type Store = DDSketch['store'];

export function newSketch(): DDSketch {
  return new DDSketch({ relativeAccuracy: RELATIVE_ACCURACY });
}

function bins(store: Store): number[] {
  const out: number[] = [];
  if (store.count === 0) return out;
  for (let key = store.minKey; key <= store.maxKey; key++) {
    const c = store.bins[key - store.offset] ?? 0;
    if (c > 0) out.push(key, c);
  }
  return out;
}

/**
 * A compact encoding of a sketch's bins: [format, accuracy, zeros, n+, (key, count)…, n-, (key, count)…]
 * as float64. The library's protobuf form costs ~60 µs and ~1 KB even for one value; this one
 * costs well under a microsecond and 56 bytes, and decodes to a sketch with the same answers.
 */
export function encodeSketch(sketch: DDSketch): Uint8Array {
  const pos = bins(sketch.store);
  const neg = bins(sketch.negativeStore);
  const values = new Float64Array(5 + pos.length + neg.length);
  values[0] = FORMAT;
  values[1] = RELATIVE_ACCURACY;
  values[2] = sketch.zeroCount;
  values[3] = pos.length / 2;
  values.set(pos, 4);
  values[4 + pos.length] = neg.length / 2;
  values.set(neg, 5 + pos.length);
  return new Uint8Array(values.buffer);
}

export function decodeSketch(bytes: Uint8Array): DDSketch {
  const aligned = bytes.byteOffset % 8 === 0 ? bytes : bytes.slice();
  const v = new Float64Array(aligned.buffer, aligned.byteOffset, aligned.byteLength / 8);
  if (v[0] !== FORMAT || v[1] !== RELATIVE_ACCURACY) {
    throw new Error(`unknown sketch encoding (format ${v[0]}, accuracy ${v[1]})`);
  }
  const sketch = newSketch();
  sketch.zeroCount = v[2] as number;
  let i = 3;
  let count = sketch.zeroCount;
  for (const store of [sketch.store, sketch.negativeStore]) {
    const n = v[i++] as number;
    if (n > 0) {
      // The highest key first, then the lowest: the store then sizes its bins once instead of
      // re-centring them (an allocation) for every new extreme key.
      const last = i + 2 * (n - 1);
      store.add(v[last] as number, v[last + 1] as number);
      count += v[last + 1] as number;
      for (let k = 0; k < n - 1; k++, i += 2) {
        store.add(v[i] as number, v[i + 1] as number);
        count += v[i + 1] as number;
      }
      i += 2;
    }
  }
  sketch.count = count;
  return sketch;
}
