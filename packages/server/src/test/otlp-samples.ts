/** One valid OTLP export request per signal, as OTLP/JSON and as protobuf: seeds for fuzzing. */
import { SIGNALS, type Signal } from '../otlp/proto.js';

const NOW_NS = String(BigInt(Date.now()) * 1_000_000n);

/** A valid request of each signal, as the generated module encodes it. */
export const VALID: Record<Signal, Record<string, unknown>> = {
  traces: {
    resourceSpans: [
      {
        resource: { attributes: [{ key: 'service.name', value: { stringValue: 'svc' } }] },
        scopeSpans: [
          {
            scope: { name: 's' },
            spans: [
              {
                traceId: '5b8efff798038103d269b633813fc60c',
                spanId: 'eee19b7ec3c1b174',
                name: 'chat',
                kind: 3,
                startTimeUnixNano: NOW_NS,
                endTimeUnixNano: NOW_NS,
                attributes: [
                  { key: 'gen_ai.operation.name', value: { stringValue: 'chat' } },
                  { key: 'gen_ai.usage.input_tokens', value: { intValue: '12' } },
                ],
                status: { code: 2, message: 'x' },
              },
            ],
          },
        ],
      },
    ],
  },
  metrics: {
    resourceMetrics: [
      {
        scopeMetrics: [
          {
            metrics: [
              { name: 'g', gauge: { dataPoints: [{ timeUnixNano: NOW_NS, asDouble: 1.5 }] } },
              {
                name: 'h',
                histogram: {
                  aggregationTemporality: 2,
                  dataPoints: [
                    { timeUnixNano: NOW_NS, count: '2', bucketCounts: ['1', '1'], explicitBounds: [5] },
                  ],
                },
              },
            ],
          },
        ],
      },
    ],
  },
  logs: {
    resourceLogs: [
      {
        scopeLogs: [
          {
            logRecords: [
              {
                timeUnixNano: NOW_NS,
                severityText: 'INFO',
                body: { stringValue: 'hello' },
                traceId: '5b8efff798038103d269b633813fc60c',
              },
            ],
          },
        ],
      },
    ],
  },
};

export function encodeValid(signal: Signal): Uint8Array {
  const message = SIGNALS[signal].request;
  const withBytes = JSON.parse(JSON.stringify(VALID[signal]), (key, value) =>
    (key === 'traceId' || key === 'spanId') && typeof value === 'string' ? Buffer.from(value, 'hex') : value,
  ) as Record<string, unknown>;
  return message.encode(message.fromObject(withBytes)).finish();
}
