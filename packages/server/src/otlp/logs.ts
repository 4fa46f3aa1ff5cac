/**
 * Log records → events of type `log`. The body is kept (through the same scrubbing as every
 * prop) except for GenAI events, whose body is message content.
 */

import { createHash } from 'node:crypto';
import type { RawEvent, ScrubReason } from '../ingest/index.js';
import { LogRecordMessage, type LogsRequest } from './proto.js';
import { RESOURCE_PROPS } from './traces.js';
import { anyValue, attributes, type ContentAttributes, deterministicId, hex, nanosToMs } from './values.js';

export interface LogMapping {
  project: string;
  content: ContentAttributes;
}

export function logsToEvents(request: LogsRequest, m: LogMapping): RawEvent[] {
  const out: RawEvent[] = [];
  // Identical records in one request stay distinct events (and the same on a retry).
  const seen = new Map<string, number>();
  for (const rl of request.resourceLogs ?? []) {
    const resource = attributes(rl.resource?.attributes);
    const resourceKey = JSON.stringify(resource);
    for (const sl of rl.scopeLogs ?? []) {
      const scope = sl.scope?.name ?? '';
      for (const record of sl.logRecords ?? []) {
        const read = m.content.read(record.attributes);
        const attrs = read.attrs;
        let dropped = read.dropped;
        const eventName = typeof attrs['event.name'] === 'string' ? (attrs['event.name'] as string) : '';
        const props: Record<string, unknown> = { ...attrs };
        for (const name of RESOURCE_PROPS) if (resource[name] !== undefined) props[name] = resource[name];
        if (scope) props['otel.scope.name'] = scope;
        if (record.severityText) props.severity = record.severityText;
        if (record.severityNumber) props.severity_number = record.severityNumber;
        if (eventName) props.event_name = eventName;
        const traceId = hex(record.traceId);
        const spanId = hex(record.spanId);
        if (traceId) props.trace_id = traceId;
        if (spanId) props.span_id = spanId;
        if (record.body) {
          if (isGenAiEvent(eventName, attrs)) dropped += 1;
          else props.body = anyValue(record.body);
        }
        const timeMs = nanosToMs(record.timeUnixNano) || nanosToMs(record.observedTimeUnixNano);
        const digest = createHash('sha256')
          .update(LogRecordMessage.encode(record).finish())
          .update(resourceKey)
          .update(scope)
          .digest('hex');
        const n = seen.get(digest) ?? 0;
        seen.set(digest, n + 1);
        const version = resource['service.version'];
        out.push({
          ok: true,
          value: {
            id: deterministicId(timeMs, m.project, 'log', digest, String(n)),
            type: 'log',
            ts: timeMs > 0 ? Math.floor(timeMs) : undefined,
            version: typeof version === 'string' && version !== '' ? version : undefined,
            props,
          },
          scrubbed: new Array<ScrubReason>(dropped).fill('content'),
        });
      }
    }
  }
  return out;
}

/**
 * A GenAI event's body is message content. Its name says so (`gen_ai.*`); over protobuf the
 * name may be lost (the generated module predates `event_name`), so GenAI attributes count too.
 */
function isGenAiEvent(eventName: string, attrs: Record<string, unknown>): boolean {
  if (eventName.startsWith('gen_ai.')) return true;
  for (const key in attrs) if (key.startsWith('gen_ai.')) return true;
  return false;
}
