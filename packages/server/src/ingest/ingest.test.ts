import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyChain } from '../audit/index.js';
import { call, readEvents, startVigil, type Vigil } from '../test/harness.js';

let vigil: Vigil;
beforeAll(async () => {
  vigil = await startVigil();
});
afterAll(async () => {
  await vigil.cleanup();
});

const post = (body: unknown, headers: Record<string, string> = {}, token = vigil.ingestKey) =>
  call(vigil, 'POST', '/v1/events', { token, json: body, headers });

describe('POST /v1/events', () => {
  it('stores every built-in type with typed fields, versions and custom props', async () => {
    const res = await post({
      events: [
        {
          type: 'llm.request',
          version: '1.4.2',
          ts: '2026-11-20T10:00:00Z',
          props: {
            total_ms: 820,
            context_ms: 120,
            llm_ms: 700,
            prompt_tokens: 512,
            completion_tokens: 128,
            cache_hit: true,
            error_type: null,
            user: 'u1',
            space: 'sp1',
            model: 'gpt-4o',
            route: '/chat',
          },
        },
        {
          type: 'decision.recommendation',
          version: '1.4.2',
          props: {
            action: 'accept',
            signal_id: 'sig-hp',
            recommendation_type: 'fraud',
            confidence: 0.9,
            decision_time_ms: 4000,
            admin_user: 'a1',
            explanation_version: 'v2',
          },
        },
        {
          type: 'decision.outcome',
          version: '1.4.2',
          props: { signal_id: 'sig-hp', outcome_status: 'confirmed' },
        },
        { type: 'admin.view', version: '1.4.2', props: { view: 'dashboard_open', admin_user: 'a1' } },
        { type: 'checkout.completed', ts: 1_795_000_000_000, props: { cart: { items: 3 }, total: 12.5 } },
      ],
    });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ accepted: 5, rejected: [] });

    const llm = await readEvents(vigil, { type: 'llm.request' });
    expect(llm).toHaveLength(1);
    expect(llm[0]).toMatchObject({
      type: 'llm.request',
      version: '1.4.2',
      ts: '2026-11-20T10:00:00.000Z',
      props: { total_ms: 820, prompt_tokens: 512, cache_hit: true, model: 'gpt-4o', route: '/chat' },
    });
    const custom = await readEvents(vigil, { type: 'checkout.completed' });
    expect(custom[0]?.props).toEqual({ cart: { items: 3 }, total: 12.5 });
    expect(custom[0]?.ts).toBe(new Date(1_795_000_000_000).toISOString());
  });

  it('accepts the valid events of a batch and names each rejected one by index and code', async () => {
    const res = await post({
      events: [
        { type: 'ok.one' },
        { type: 'llm.request', props: { total_ms: 'fast' } },
        {
          type: 'decision.recommendation',
          props: { action: 'maybe', signal_id: 's', recommendation_type: 'r' },
        },
        'not an object',
        { type: '' },
        { type: 'ok.two', id: 'not-a-uuid' },
        { type: 'ok.three', ts: 'yesterday' },
        { type: 'ok.four', ts: Date.now() + 3_600_000 },
        { type: 'ok.five', version: 7 },
        { type: 'ok.six' },
      ],
    });
    expect(res.status).toBe(200);
    const body = res.body as {
      accepted: number;
      rejected: { index: number; code: string; message: string }[];
    };
    expect(body.accepted).toBe(2);
    expect(body.rejected.map((r) => [r.index, r.code])).toEqual([
      [1, 'invalid_field'],
      [2, 'invalid_field'],
      [3, 'invalid_event'],
      [4, 'invalid_type'],
      [5, 'invalid_id'],
      [6, 'invalid_ts'],
      [7, 'ts_in_future'],
      [8, 'invalid_version'],
    ]);
    expect(body.rejected[0]?.message).toContain('total_ms');
    for (const r of body.rejected) expect(r.message.length).toBeGreaterThan(10);
  });

  it('stores an event posted twice with the same id once, across requests and within one', async () => {
    const id = '01931b6e-8f3a-7cde-8a12-3456789abcde';
    const event = { id, type: 'idem.test', ts: Date.now(), props: { n: 1 } };
    for (let i = 0; i < 3; i++) {
      // Within one request the repeat is named; across requests a resend is a success (idempotent).
      const res = await post({ events: [event, event] });
      expect(res.body).toMatchObject({ accepted: 1, rejected: [{ index: 1, code: 'duplicate_id' }] });
    }
    // Same id without a ts: the server stamps receive time, and the retry is still recognised.
    const bare = { id: '01931b6e-8f3a-7cde-8a12-3456789abcdf', type: 'idem.test' };
    await post({ events: [bare] });
    await post({ events: [bare] });
    const stored = await readEvents(vigil, { type: 'idem.test' });
    expect(stored.map((e) => e.id).sort()).toEqual([id, bare.id]);
  });

  it('takes one UUID in upper and lower case as one id: accepted is what is stored', async () => {
    const id = '01931b6e-8f3a-7cde-8a12-3456789abce0';
    const res = await post({
      events: [
        { id: id.toUpperCase(), type: 'case.test' },
        { id, type: 'case.test' },
        { id: id.replace('abce0', 'ABCE1'), type: 'case.test' },
      ],
    });
    expect(res.body).toMatchObject({ accepted: 2, rejected: [{ index: 1, code: 'duplicate_id' }] });
    const stored = await readEvents(vigil, { type: 'case.test' });
    expect(stored.map((e) => e.id).sort()).toEqual([id, id.replace('abce0', 'abce1')]);
  });

  it('rejects a second outcome for the same signal with its own code', async () => {
    const first = await post({
      events: [{ type: 'decision.outcome', props: { signal_id: 'sig-once', outcome_status: 'fp' } }],
    });
    expect(first.body).toEqual({ accepted: 1, rejected: [] });
    const second = await post({
      events: [
        { type: 'decision.outcome', props: { signal_id: 'sig-once', outcome_status: 'confirmed' } },
        { type: 'decision.outcome', props: { signal_id: 'sig-twice', outcome_status: 'confirmed' } },
        { type: 'decision.outcome', props: { signal_id: 'sig-twice', outcome_status: 'confirmed' } },
      ],
    });
    expect(second.body).toMatchObject({
      accepted: 1,
      rejected: [
        { index: 0, code: 'duplicate_outcome' },
        { index: 2, code: 'duplicate_outcome' },
      ],
    });
  });

  it('reads NDJSON and gzip, rejecting unreadable lines one by one', async () => {
    const ndjson = '{"type":"nd.a"}\n\n{"type":"nd.b","props":{"x":1}}\n{oops\n';
    const res = await call(vigil, 'POST', '/v1/events', {
      token: vigil.ingestKey,
      body: gzipSync(ndjson),
      headers: { 'content-type': 'application/x-ndjson', 'content-encoding': 'gzip' },
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ accepted: 2, rejected: [{ index: 2, code: 'invalid_json' }] });
    const gz = await call(vigil, 'POST', '/v1/events', {
      token: vigil.ingestKey,
      body: gzipSync(JSON.stringify({ events: [{ type: 'gz.json' }] })),
      headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
    });
    expect(gz.body).toEqual({ accepted: 1, rejected: [] });
    expect(await readEvents(vigil, { type: 'nd.a,nd.b,gz.json' })).toHaveLength(3);
  });

  it('marks late events and keeps them', async () => {
    const ts = Date.now() - 2 * 3_600_000;
    await post({ events: [{ type: 'late.one', ts }] });
    const [event] = await readEvents(vigil, { type: 'late.one' });
    expect(event?.late).toBe(true);
    expect(event?.ts).toBe(new Date(ts).toISOString());
  });

  it('drops deny-listed names and personal data before storage and counts them', async () => {
    const res = await post({
      events: [
        {
          type: 'llm.request',
          props: {
            total_ms: 10,
            prompt_tokens: 5,
            user: 'jane@example.com',
            Prompt: 'tell me a secret',
            nested: { Password: 'hunter2', note: 'call +1 415 555 0100', keep: 'v1.2.3' },
            messages: [{ content: 'hi' }],
          },
        },
      ],
    });
    expect(res.body).toEqual({ accepted: 1, rejected: [] });
    const [event] = await readEvents(vigil, { type: 'llm.request', 'prop.prompt_tokens': '5' });
    expect(event?.props).toEqual({ total_ms: 10, prompt_tokens: 5, nested: { keep: 'v1.2.3' } });
    const counts = await vigil.server.context.store.events.scrubCounts('default');
    expect(Object.fromEntries(counts.map((c) => [c.reason, c.count]))).toMatchObject({
      deny_list: 3,
      email: 1,
      phone: 1,
    });
  });

  it('rejects unknown types in a strict project', async () => {
    const admin = vigil.adminToken;
    expect(
      (await call(vigil, 'PATCH', '/api/projects/default', { token: admin, json: { strictTypes: true } }))
        .status,
    ).toBe(200);
    const res = await post({
      events: [{ type: 'custom.thing' }, { type: 'admin.view', props: { view: 'dashboard_open' } }],
    });
    expect(res.body).toMatchObject({ accepted: 1, rejected: [{ index: 0, code: 'unknown_event_type' }] });
    await call(vigil, 'PATCH', '/api/projects/default', { token: admin, json: { strictTypes: false } });
  });
});

describe('event log filters on typed fields', () => {
  it('matches numbers and booleans by value, and keeps a prop named __proto__', async () => {
    const res = await post({
      events: [
        { type: 'llm.request', props: { total_ms: 820.5, cache_hit: false, model: 'filter-test' } },
        { type: 'proto.test', props: JSON.parse('{"__proto__":{"polluted":true},"ok":1}') },
      ],
    });
    expect(res.body).toEqual({ accepted: 2, rejected: [] });
    expect(await readEvents(vigil, { 'prop.total_ms': '820.5' })).toHaveLength(1);
    expect(await readEvents(vigil, { 'prop.cache_hit': 'false', 'prop.model': 'filter-test' })).toHaveLength(
      1,
    );
    expect(await readEvents(vigil, { 'prop.total_ms': 'abc' })).toHaveLength(0);
    const [proto] = await readEvents(vigil, { type: 'proto.test' });
    expect(JSON.stringify(proto?.props)).toBe('{"__proto__":{"polluted":true},"ok":1}');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('browser access', () => {
  it('answers the CORS preflight without credentials and lets any origin post with a key', async () => {
    const pre = await fetch(`${vigil.url}/v1/events`, {
      method: 'OPTIONS',
      headers: {
        origin: 'https://app.example',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization, content-type',
      },
    });
    expect(pre.status).toBe(204);
    expect(pre.headers.get('access-control-allow-origin')).toBe('*');
    expect(pre.headers.get('access-control-allow-headers')).toContain('authorization');
    const res = await post({ events: [{ type: 'cors.test' }] }, { origin: 'https://app.example' });
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    expect(res.headers.get('access-control-expose-headers')).toContain('retry-after');
    // Other routes stay same-origin only.
    const keys = await call(vigil, 'GET', '/api/keys', {
      token: vigil.adminToken,
      headers: { origin: 'https://app.example' },
    });
    expect(keys.headers.get('access-control-allow-origin')).toBeNull();
  });
});

describe('lone surrogates', () => {
  // JSON text with lone UTF-16 surrogates escaped: no UTF-8 encoding can hold them.
  const body = String.raw`{"events":[
    {"type":"llm.request","props":{"total_ms":5,"user":"\ud800","model":"m\udc00x"}},
    {"type":"surrogate.test","version":"v\ud83d","props":{"note":"a\ud800b","\udfff":1,"pair":"\ud83d\ude00"}}
  ]}`;

  it('are stored as U+FFFD, keep the audit chain whole, and break no read', async () => {
    const sent = await call(vigil, 'POST', '/v1/events', {
      token: vigil.ingestKey,
      body,
      headers: { 'content-type': 'application/json' },
    });
    expect(sent.body).toMatchObject({ accepted: 2, rejected: [] });
    const chain = await verifyChain(vigil.server.context.store.events);
    expect(chain.ok, JSON.stringify(chain.firstBad)).toBe(true);

    const [custom] = await readEvents(vigil, { type: 'surrogate.test' });
    expect(custom?.version).toBe('v\ufffd');
    expect(custom?.props).toEqual({ note: 'a\ufffdb', '\ufffd': 1, pair: '\ud83d\ude00' });
    const [llm] = (await readEvents(vigil, { type: 'llm.request' })).filter(
      (e) => e.props.model === 'm\ufffdx',
    );
    expect(llm?.props.user).toBe('\ufffd');

    // Filters on the prop, and queries over the project, answer as for any other text.
    const filtered = await call(vigil, 'GET', `/api/events?prop.note=${encodeURIComponent('a\ufffdb')}`, {
      token: vigil.adminToken,
    });
    expect(filtered.status).toBe(200);
    expect((filtered.body as { events: unknown[] }).events).toHaveLength(1);
    const query = await call(vigil, 'POST', '/api/query', {
      token: vigil.adminToken,
      json: {
        type: 'surrogate.test',
        field: 'note',
        aggregate: 'count',
        from: Date.now() - 3_600_000,
        to: Date.now() + 60_000,
        groupBy: ['note'],
      },
    });
    expect(query.status, JSON.stringify(query.body)).toBe(200);
  });
});
