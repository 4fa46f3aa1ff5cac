/**
 * OTLP ingest throughput: spans/s over OTLP/HTTP protobuf (GenAI chat spans → llm.request)
 * against `/v1/events` events/s (the same kind of llm.request, JSON) measured in the same run,
 * each on a fresh server (built JS, own process) with the same keep-alive senders and batch.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SIGNALS } from '../packages/server/src/otlp/proto.js';
import { BATCH, CONCURRENCY, DURATION_S, httpIngest } from './ingest.js';

const MODELS = ['gpt-4o', 'gpt-4o-mini', 'claude-sonnet', 'llama-3-70b'];
const MAGIC = 0xf00dface;

/**
 * One ExportTraceServiceRequest of BATCH chat spans, encoded once by the generated module; each
 * body is a copy with the request number written into every span id (unique spans, as a real
 * exporter sends, without paying the client's encoding on the bench's two cores).
 */
function spanBodies(): () => Buffer {
  const start = BigInt(Date.now()) * 1_000_000n;
  const spans = Array.from({ length: BATCH }, (_, n) => {
    const spanId = Buffer.alloc(8);
    spanId.writeUInt32BE(MAGIC, 0);
    spanId.writeUInt32BE(n, 4);
    const llm = 200 + ((n * 7919) % 2800);
    const attributes: Record<string, string | number> = {
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': 'openai',
      'gen_ai.request.model': MODELS[n % 4] as string,
      'gen_ai.usage.input_tokens': 300 + (n % 1700),
      'gen_ai.usage.output_tokens': 50 + (n % 450),
      'gen_ai.usage.cache_read.input_tokens': n % 3 === 0 ? 128 : 0,
      'user.id': `user-${n % 1000}`,
      'vigil.space': `space-${n % 20}`,
    };
    if (n % 50 === 0) attributes['error.type'] = 'timeout';
    return {
      traceId: Buffer.from(`${n.toString(16).padStart(8, '0')}0af7651916cd43dd8448eb21`, 'hex'),
      spanId,
      name: `chat ${MODELS[n % 4]}`,
      kind: 3,
      startTimeUnixNano: String(start),
      endTimeUnixNano: String(start + BigInt(llm) * 1_000_000n),
      attributes: Object.entries(attributes).map(([key, v]) => ({
        key,
        value: typeof v === 'string' ? { stringValue: v } : { intValue: v },
      })),
    };
  });
  const message = SIGNALS.traces.request;
  const template = Buffer.from(
    message
      .encode(
        message.fromObject({
          resourceSpans: [
            {
              resource: {
                attributes: [
                  { key: 'service.name', value: { stringValue: 'bench-app' } },
                  { key: 'service.version', value: { stringValue: '2.3.1' } },
                ],
              },
              scopeSpans: [{ scope: { name: 'bench' }, spans }],
            },
          ],
        }),
      )
      .finish(),
  );
  const offsets: number[] = [];
  const magic = Buffer.alloc(4);
  magic.writeUInt32BE(MAGIC);
  for (let at = template.indexOf(magic); at >= 0; at = template.indexOf(magic, at + 1)) offsets.push(at);
  if (offsets.length !== BATCH) throw new Error(`found ${offsets.length} span ids in the template`);
  let request = 0;
  return () => {
    const body = Buffer.from(template);
    request += 1;
    for (const at of offsets) body.writeUInt32BE(request, at);
    return body;
  };
}

const dir = mkdtempSync(join(tmpdir(), 'vigil-bench-otlp-'));
try {
  mkdirSync(join(dir, 'events'));
  mkdirSync(join(dir, 'otlp'));
  const events = await httpIngest(join(dir, 'events'));
  const otlp = await httpIngest(join(dir, 'otlp'), {
    makeBody: spanBodies(),
    path: '/v1/traces',
    contentType: 'application/x-protobuf',
  });
  const codes = (m: Map<number, number>) => [...m].map(([s, n]) => `${s}:${n}`).join(',');
  console.log(
    `otlp.events_http events_per_s=${Math.round(events.rate)} (baseline: /v1/events JSON llm.request, same run) concurrency=${CONCURRENCY} batch=${BATCH} seconds=${DURATION_S} statuses=${codes(events.statuses)}`,
  );
  console.log(
    `otlp.traces_protobuf spans_per_s=${Math.round(otlp.rate)} (GenAI chat spans → llm.request) concurrency=${CONCURRENCY} batch=${BATCH} seconds=${DURATION_S} statuses=${codes(otlp.statuses)}`,
  );
  console.log(`otlp.ratio spans_over_events=${(otlp.rate / events.rate).toFixed(2)}`);
  console.log(
    `otlp.server_rss_mb peak_sampled=${Math.round(otlp.rss.rss)} vm_hwm=${Math.round(otlp.rss.hwm)} target<=300 met=${otlp.rss.hwm <= 300 ? 'yes' : 'no'} (events run: vm_hwm=${Math.round(events.rss.hwm)})`,
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
