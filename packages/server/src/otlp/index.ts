// OTLP/HTTP decoding and mapping; the receivers (HTTP routes) are in api/otlp.ts.
export { decodeRequest, type OtlpEncoding, otlpEncoding } from './decode.js';
export { logsToEvents } from './logs.js';
export { metricsToSamples, pointsOf } from './metrics.js';
export { SIGNALS, type Signal, type SignalRequest, StatusMessage } from './proto.js';
export { ContextSpans, spansToEvents } from './traces.js';
export { ContentAttributes } from './values.js';
