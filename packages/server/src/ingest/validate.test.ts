import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { defaultConfig } from '../config/index.js';
import { scrubPolicy, sensitiveValue } from './scrub.js';
import { isRejection, parseTs, validateEvent } from './validate.js';

const config = defaultConfig();
const policy = scrubPolicy(config.privacy);
const ctx = {
  project: 'p',
  strictTypes: false,
  receivedAt: Date.parse('2026-11-23T12:00:00Z'),
  limits: config.ingest,
  privacy: policy,
};

describe('privacy detectors', () => {
  it.each([
    'jane@example.com',
    'contact: Jane.Doe+tag@mail.example.co.uk please',
    '+1 415 555 0100',
    '+44 20 7946 0958',
    '(415) 555-0100',
    '415-555-0100',
    'call 415.555.0100 now',
    '+4915123456789',
  ])('flags %s', (value) => {
    expect(sensitiveValue(value, policy)).not.toBeNull();
  });

  it.each([
    '2026-11-23',
    '2026-11-23T10:00:00.123Z',
    '1.4.2',
    'v10.20.30',
    '01931b6e-8f3a-7cde-8a12-3456789abcde',
    '10.0.0.1',
    '192.168.100.200',
    'order 123456789',
    'gpt-4o-2024-08-06',
    'user@localhost',
    '3.14159265358979',
  ])('keeps %s', (value) => {
    expect(sensitiveValue(value, policy)).toBeNull();
  });

  it('keeps prompt_tokens while dropping prompt (exact names, any case)', () => {
    const result = validateEvent(
      { type: 'llm.request', props: { total_ms: 1, prompt_tokens: 3, PROMPT: 'x', Token: 'y' } },
      ctx,
    );
    expect(isRejection(result)).toBe(false);
    if (!isRejection(result)) {
      expect(result.row.prompt_tokens).toBe(3);
      expect(result.row.props).toBeNull();
      expect(result.scrubbed).toEqual(['deny_list', 'deny_list']);
    }
  });
});

describe('validateEvent', () => {
  it('takes built-in fields from the top level too, and ts without a zone as UTC', () => {
    const result = validateEvent(
      { type: 'admin.view', view: 'signal_detail_open', signal_id: 's1', ts: '2026-11-23 11:00:00' },
      ctx,
    );
    expect(isRejection(result)).toBe(false);
    if (!isRejection(result)) {
      expect(result.row.view).toBe('signal_detail_open');
      expect(result.row.signal_id).toBe('s1');
      expect(result.row.ts).toBe(Date.parse('2026-11-23T11:00:00Z'));
      expect(result.row.late).toBe(true);
    }
  });

  it('parses ISO times and epoch ms, and refuses loose dates', () => {
    expect(parseTs('2026-11-23T12:00:00+02:00')).toBe(Date.parse('2026-11-23T10:00:00Z'));
    expect(parseTs(1_795_000_000_000)).toBe(1_795_000_000_000);
    expect(parseTs('Nov 23 2026')).toBeNull();
    expect(parseTs('1')).toBeNull();
    expect(parseTs(Number.NaN)).toBeNull();
  });

  it('for any input, returns a row or a rejection with a known code, and never throws', () => {
    const codes = new Set([
      'invalid_event',
      'invalid_type',
      'unknown_event_type',
      'invalid_id',
      'invalid_ts',
      'ts_in_future',
      'ts_too_old',
      'invalid_version',
      'invalid_field',
      'missing_field',
      'string_too_long',
      'too_deep',
      'too_many_props',
      'event_too_large',
    ]);
    const event = fc.record(
      {
        type: fc.oneof(
          fc.constantFrom('llm.request', 'decision.recommendation', 'decision.outcome', 'admin.view', 'a.b'),
          fc.string(),
        ),
        id: fc.oneof(fc.uuid(), fc.string(), fc.integer()),
        ts: fc.oneof(
          fc.integer(),
          fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
          fc.string(),
        ),
        version: fc.oneof(fc.string(), fc.constant(null), fc.integer()),
        props: fc.oneof(fc.dictionary(fc.string(), fc.jsonValue()), fc.jsonValue()),
        total_ms: fc.oneof(fc.double(), fc.string()),
        action: fc.constantFrom('view', 'accept', 'nope'),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(fc.oneof(event, fc.jsonValue()), (input) => {
        const result = validateEvent(input, ctx);
        if (isRejection(result)) expect(codes.has(result.code)).toBe(true);
        else {
          expect(result.row.id).toMatch(/^[0-9a-f-]{36}$/);
          expect(Number.isFinite(result.row.ts)).toBe(true);
          if (result.row.props !== null) expect(typeof JSON.parse(result.row.props)).toBe('object');
        }
      }),
      { numRuns: 2000 },
    );
  });
});
