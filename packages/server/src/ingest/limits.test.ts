import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, startVigil, type Vigil } from '../test/harness.js';
import { MAX_JSON_NESTING, nestsDeeperThan } from './nesting.js';

let vigil: Vigil;
beforeAll(async () => {
  vigil = await startVigil({
    config: {
      ingest: {
        maxBodyBytes: 64 * 1024,
        maxDecompressedBytes: 256 * 1024,
        maxEventsPerRequest: 50,
        maxEventBytes: 2048,
        maxStringLength: 100,
        maxDepth: 3,
        maxProps: 20,
      },
      rateLimits: { ingest: { ratePerSec: 1_000_000, burst: 1_000_000 } },
    },
  });
});
afterAll(async () => {
  await vigil.cleanup();
});

const send = (
  body: string | Uint8Array,
  headers: Record<string, string> = { 'content-type': 'application/json' },
) => call(vigil, 'POST', '/v1/events', { token: vigil.ingestKey, body, headers });

const errorCode = (res: { body: unknown }) => (res.body as { error?: { code?: string } }).error?.code;
const rejectionCode = (res: { body: unknown }) =>
  (res.body as { rejected: { code: string }[] }).rejected[0]?.code;

describe('nesting', () => {
  const deep = (levels: number) =>
    `{"events":[{"type":"x","props":{"a":${'['.repeat(levels)}${']'.repeat(levels)}}}]}`;

  it('reads brackets inside strings and escapes as text', () => {
    const text = (s: string) => Buffer.from(s);
    expect(nestsDeeperThan(text('[[["[[[[","\\"],[]]]'), 3)).toBe(false);
    expect(nestsDeeperThan(text('[[["\\"[[[[",[[]]]]'), 3)).toBe(true);
    expect(nestsDeeperThan(text('[[[\n[[['), 3, { lines: true })).toBe(false);
    expect(nestsDeeperThan(text('[[[\n[[['), 3)).toBe(true);
    expect(nestsDeeperThan(text(deep(MAX_JSON_NESTING)), MAX_JSON_NESTING)).toBe(true);
  });

  it('a body nested far too deep is refused unread, on every route that reads JSON', async () => {
    // Within this server's 64 KB body limit; the default limits let 6 MB nested a million deep in.
    const body = '['.repeat(30_000) + ']'.repeat(30_000);
    const admin = { token: vigil.adminToken, body, headers: { 'content-type': 'application/json' } };
    for (const [path, token, type] of [
      ['/v1/events', vigil.ingestKey, 'application/json'],
      ['/v1/events', vigil.ingestKey, 'application/x-ndjson'],
      ['/v1/traces', vigil.ingestKey, 'application/json'],
      ['/api/query', vigil.adminToken, 'application/json'],
      ['/api/alerts/rules', vigil.adminToken, 'application/json'],
    ] as const) {
      const res = await call(vigil, 'POST', path, { ...admin, token, headers: { 'content-type': type } });
      expect(res.status, `${path} ${type}`).toBe(400);
      expect(errorCode(res), path).toBe('too_deep');
    }
  });

  it('a batch with one event nested deeper than maxDepth keeps its per-event rejection', async () => {
    const res = await send(deep(10));
    expect(res.status).toBe(200);
    expect(rejectionCode(res)).toBe('too_deep');
  });
});

describe('ingest limits and malformed bodies', () => {
  it.each([
    ['not JSON', '{"events":[', 400, 'invalid_json'],
    ['wrong shape', '{"evnts":[]}', 400, 'invalid_body'],
    ['a number', '42', 400, 'invalid_body'],
    ['empty body', '', 400, 'invalid_body'],
  ])('%s → %i %s', async (_name, body, status, code) => {
    const res = await send(body);
    expect(res.status).toBe(status);
    expect(errorCode(res)).toBe(code);
    expect((res.body as { error: { message: string } }).error.message.length).toBeGreaterThan(10);
  });

  it('body over the size limit → 413 payload_too_large', async () => {
    const res = await send(
      JSON.stringify({ events: [{ type: 'x', props: { pad: 'a'.repeat(70 * 1024) } }] }),
    );
    expect([res.status, errorCode(res)]).toEqual([413, 'payload_too_large']);
  });

  it('gzip bomb → 413 decompressed_too_large', async () => {
    const bomb = gzipSync(Buffer.alloc(10 * 1024 * 1024, 0x20));
    expect(bomb.length).toBeLessThan(64 * 1024);
    const res = await send(bomb, { 'content-type': 'application/json', 'content-encoding': 'gzip' });
    expect([res.status, errorCode(res)]).toEqual([413, 'decompressed_too_large']);
  });

  it('broken gzip → 400 invalid_gzip; unknown encoding → 415; wrong media type → 415', async () => {
    const broken = await send(Buffer.from('not gzip at all'), {
      'content-type': 'application/json',
      'content-encoding': 'gzip',
    });
    expect([broken.status, errorCode(broken)]).toEqual([400, 'invalid_gzip']);
    const br = await send('{}', { 'content-type': 'application/json', 'content-encoding': 'br' });
    expect([br.status, errorCode(br)]).toEqual([415, 'unsupported_encoding']);
    const xml = await send('<events/>', { 'content-type': 'application/xml' });
    expect([xml.status, errorCode(xml)]).toEqual([415, 'unsupported_media_type']);
  });

  it('too many events → 413 too_many_events', async () => {
    const res = await send(JSON.stringify({ events: Array.from({ length: 51 }, () => ({ type: 'x' })) }));
    expect([res.status, errorCode(res)]).toEqual([413, 'too_many_events']);
  });

  it.each([
    ['string_too_long', { type: 'x', props: { s: 'a'.repeat(101) } }],
    ['too_deep', { type: 'x', props: { a: { b: { c: { d: 1 } } } } }],
    [
      'too_many_props',
      { type: 'x', props: Object.fromEntries(Array.from({ length: 21 }, (_, i) => [`k${i}`, i])) },
    ],
    ['too_many_props', { type: 'x', props: { list: Array.from({ length: 30 }, (_, i) => i) } }],
    [
      'event_too_large',
      {
        type: 'x',
        props: Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`k${i}`, 'v'.repeat(99)])),
      },
    ],
  ])('per-event limit → rejected with %s', async (code, event) => {
    const res = await send(JSON.stringify({ events: [event, { type: 'fine' }] }));
    expect(res.status).toBe(200);
    expect((res.body as { accepted: number }).accepted).toBe(1);
    expect(rejectionCode(res)).toBe(code);
  });

  it('deeply nested JSON is refused before the parser sees it', async () => {
    const deep = `{"events":[{"type":"x","props":${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}}]}`;
    const res = await send(deep);
    expect(res.status).toBe(400);
    expect(errorCode(res)).toBe('too_deep');
  });

  it('any body at all gets a 2xx or a 4xx with a code, never a 5xx', async () => {
    const jsonish = fc.oneof(
      fc.json(),
      fc.jsonValue().map((v) => JSON.stringify({ events: [v] })),
      fc
        .array(
          fc.record(
            {
              type: fc.oneof(
                fc.constantFrom('llm.request', 'decision.outcome', 'admin.view', 'x.y'),
                fc.string(),
              ),
              id: fc.oneof(fc.uuid(), fc.string()),
              ts: fc.oneof(fc.integer(), fc.string(), fc.double()),
              version: fc.oneof(fc.string(), fc.integer()),
              props: fc.dictionary(fc.string(), fc.jsonValue()),
            },
            { requiredKeys: [] },
          ),
          { maxLength: 5 },
        )
        .map((events) => JSON.stringify({ events })),
      fc.string(),
      fc.uint8Array({ maxLength: 512 }).map((b) => Buffer.from(b).toString('latin1')),
    );
    await fc.assert(
      fc.asyncProperty(
        jsonish,
        fc.constantFrom('application/json', 'application/x-ndjson', 'text/plain'),
        fc.boolean(),
        async (body, type, gzip) => {
          const res = await send(gzip ? gzipSync(body) : body, {
            'content-type': type,
            ...(gzip ? { 'content-encoding': 'gzip' } : {}),
          });
          expect(res.status).toBeLessThan(500);
          if (res.status >= 400) expect(typeof errorCode(res)).toBe('string');
          else expect(typeof (res.body as { accepted: number }).accepted).toBe('number');
        },
      ),
      { numRuns: 300 },
    );
  });
});
