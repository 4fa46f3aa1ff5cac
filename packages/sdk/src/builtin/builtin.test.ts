import { describe, expect, it } from 'vitest';
import { buildClient, type VigilClient } from '../client/client.js';
import type { TrackedEvent } from '../client/options.js';
import { platform } from '../platform/index.js';
import { errorType } from './error-type.js';

/** A client on a settable clock whose beforeSend keeps each event instead of sending it. */
function recordingClient(): { client: VigilClient; events: TrackedEvent[]; clock: { now: number } } {
  const events: TrackedEvent[] = [];
  const clock = { now: 1_000 };
  const client = buildClient(
    {
      endpoint: 'http://127.0.0.1:9',
      key: 'k',
      version: 'algo-3',
      flushOnExit: false,
      beforeSend: (e) => {
        events.push(e);
        return null;
      },
    },
    { ...platform, now: () => clock.now },
  );
  return { client, events, clock };
}

async function collected(client: VigilClient, events: TrackedEvent[]) {
  await client.flush({ timeoutMs: 100 });
  return events.map((e) => ({ type: e.type, props: e.props }));
}

describe('decisions', () => {
  it('records a shown recommendation as a view, then the first decision with the time it took', async () => {
    const { client, events, clock } = recordingClient();
    const shown = client.decisions.shown({
      signalId: 's_81',
      recommendationType: 'suspend_account',
      confidence: 0.62,
      explanationVersion: 'x3',
      adminUser: 'a_7',
    });
    clock.now += 1_234.5;
    shown.accept({ source: 'detail_page' });
    shown.override();
    const base = {
      signal_id: 's_81',
      recommendation_type: 'suspend_account',
      confidence: 0.62,
      explanation_version: 'x3',
      admin_user: 'a_7',
    };
    expect(await collected(client, events)).toEqual([
      { type: 'decision.recommendation', props: { action: 'view', ...base } },
      {
        type: 'decision.recommendation',
        props: { action: 'accept', ...base, decision_time_ms: 1_234.5, source: 'detail_page' },
      },
    ]);
    expect(events.every((e) => e.version === 'algo-3')).toBe(true);
  });

  it('records direct decisions, outcomes and admin views with their typed props', async () => {
    const { client, events } = recordingClient();
    client.decisions.shown({ signalId: 's_1', recommendationType: 'r', trackView: false }).ignore();
    client.decisions.recommendation({
      action: 'override',
      signalId: 's_2',
      recommendationType: 'r',
      decisionTimeMs: 50,
    });
    client.decisions.outcome({
      signalId: 's_2',
      outcomeStatus: 'false_positive',
      resolutionTimeHours: 5.5,
      adminNoteId: 'n_1',
    });
    client.admin.view({ view: 'signal_detail_open', adminUser: 'a_7', signalId: 's_2' });
    client.admin.view({ view: 'dashboard_open' });
    expect(await collected(client, events)).toEqual([
      {
        type: 'decision.recommendation',
        props: { action: 'ignore', signal_id: 's_1', recommendation_type: 'r', decision_time_ms: 0 },
      },
      {
        type: 'decision.recommendation',
        props: { action: 'override', signal_id: 's_2', recommendation_type: 'r', decision_time_ms: 50 },
      },
      {
        type: 'decision.outcome',
        props: {
          signal_id: 's_2',
          outcome_status: 'false_positive',
          resolution_time_hours: 5.5,
          admin_note_id: 'n_1',
        },
      },
      { type: 'admin.view', props: { view: 'signal_detail_open', admin_user: 'a_7', signal_id: 's_2' } },
      { type: 'admin.view', props: { view: 'dashboard_open' } },
    ]);
  });

  it('never throws on hostile input', () => {
    const { client } = recordingClient();
    const hostile = new Proxy(
      {},
      {
        get: () => {
          throw new Error('trap');
        },
        ownKeys: () => {
          throw new Error('trap');
        },
      },
    );
    expect(() => client.decisions.recommendation(hostile as never)).not.toThrow();
    expect(() => client.decisions.shown(null as never).accept()).not.toThrow();
    expect(() => client.decisions.outcome(undefined as never)).not.toThrow();
    expect(() => client.admin.view(hostile as never)).not.toThrow();
    expect(() => client.llm.start(hostile as never).complete(hostile as never)).not.toThrow();
    expect(() => client.llm.record(null as never)).not.toThrow();
  });
});

describe('llm', () => {
  it('times a request: total, context and LLM latency, tokens, cache hit, user, space, model; once', async () => {
    const { client, events, clock } = recordingClient();
    const r = client.llm.start({ user: 'u_42', space: 'sp_7', model: 'gpt-4o' });
    clock.now += 40;
    r.contextDone();
    clock.now += 772;
    r.complete({ promptTokens: 1_200, completionTokens: 180, cacheHit: false });
    r.complete({ promptTokens: 1 });
    r.fail(new Error('late'));
    expect(await collected(client, events)).toEqual([
      {
        type: 'llm.request',
        props: {
          total_ms: 812,
          context_ms: 40,
          llm_ms: 772,
          prompt_tokens: 1_200,
          completion_tokens: 180,
          cache_hit: false,
          user: 'u_42',
          space: 'sp_7',
          model: 'gpt-4o',
        },
      },
    ]);
  });

  it('records a failure as a category, never the message text', async () => {
    const { client, events, clock } = recordingClient();
    const r = client.llm.start({ model: 'gpt-4o' });
    clock.now += 30;
    const error = Object.assign(
      new Error('Rate limit reached for user jane@example.com on prompt "secret plans"'),
      {
        status: 429,
      },
    );
    r.fail(error, { promptTokens: 900 });
    const [event] = await collected(client, events);
    expect(event).toEqual({
      type: 'llm.request',
      props: { total_ms: 30, llm_ms: 30, prompt_tokens: 900, error_type: 'rate_limit', model: 'gpt-4o' },
    });
    expect(JSON.stringify(events)).not.toContain('secret');
    expect(JSON.stringify(events)).not.toContain('jane');
  });

  it('carries the cost and cached tokens a provider reported', async () => {
    const { client, events } = recordingClient();
    const r = client.llm.start({ model: 'gpt-4o' });
    r.complete({ promptTokens: 1_000, completionTokens: 50, cacheReadTokens: 600, costUsd: 0.0042 });
    client.llm.record({ totalMs: 5, promptTokens: 10, cacheReadTokens: 0, costUsd: 0 });
    const [timed, recorded] = await collected(client, events);
    expect(timed?.props).toMatchObject({ prompt_tokens: 1_000, cache_read_tokens: 600, cost_usd: 0.0042 });
    expect(recorded?.props).toMatchObject({ total_ms: 5, cache_read_tokens: 0, cost_usd: 0 });
  });

  it('records a request timed elsewhere', async () => {
    const { client, events } = recordingClient();
    client.llm.record({
      totalMs: 100,
      llmMs: 90,
      contextMs: 10,
      cacheHit: true,
      space: 'sp',
      errorType: 'timeout',
    });
    expect(await collected(client, events)).toEqual([
      {
        type: 'llm.request',
        props: {
          total_ms: 100,
          context_ms: 10,
          llm_ms: 90,
          cache_hit: true,
          error_type: 'timeout',
          space: 'sp',
        },
      },
    ]);
  });
});

describe('errorType', () => {
  it('maps errors to low-cardinality categories', () => {
    const cases: [unknown, string][] = [
      [Object.assign(new Error('x'), { status: 429 }), 'rate_limit'],
      [Object.assign(new Error('x'), { statusCode: 503 }), 'server_error'],
      [Object.assign(new Error('x'), { response: { status: 401 } }), 'auth'],
      [
        Object.assign(new Error('x'), { status: 400, code: 'context_length_exceeded' }),
        'context_length_exceeded',
      ],
      [Object.assign(new Error('connect ECONNREFUSED 10.0.0.1:443'), { code: 'ECONNREFUSED' }), 'network'],
      [Object.assign(new Error('x'), { code: 'ETIMEDOUT' }), 'timeout'],
      [new DOMException('The operation was aborted', 'AbortError'), 'aborted'],
      [new DOMException('Signal timed out', 'TimeoutError'), 'timeout'],
      [new TypeError('Cannot read properties of undefined'), 'TypeError'],
      [new Error('plain'), 'error'],
      ['content_filter', 'content_filter'],
      ['a message with spaces in it', 'error'],
      [42, 'error'],
      [null, 'error'],
    ];
    for (const [input, expected] of cases) expect(errorType(input)).toBe(expected);
  });
});

describe('typed track()', () => {
  it('checks built-in props at compile time and leaves other types free', () => {
    const { client } = recordingClient();
    client.track('llm.request', { total_ms: 5, model: 'm' });
    // @ts-expect-error total_ms is required and must be a number
    client.track('llm.request', { total_ms: 'slow' });
    // @ts-expect-error action is one of view|accept|ignore|override
    client.track('decision.recommendation', { action: 'approve', signal_id: 's', recommendation_type: 'r' });
    client.track('my.custom.event', { anything: [1, { nested: true }] });
    expect(client.stats().tracked).toBe(4);
  });
});
