import { describe, expect, it } from 'vitest';
import { VigilError } from '../errors.js';
import { judge } from './response.js';
import {
  backoffDelay,
  DEFAULT_RETRY,
  MAX_RETRY_AFTER_MS,
  parseRetryAfter,
  retryAfterDelay,
} from './retry.js';

describe('backoff', () => {
  it('doubles from initialDelayMs with jitter between half and all of it, capped at maxDelayMs', () => {
    const policy = { initialDelayMs: 100, maxDelayMs: 1_000, maxAttempts: 5 };
    expect(backoffDelay(1, policy, () => 0)).toBe(50);
    expect(backoffDelay(1, policy, () => 0.999_999)).toBe(100);
    expect(backoffDelay(3, policy, () => 0)).toBe(200);
    expect(backoffDelay(3, policy, () => 0.999_999)).toBe(400);
    expect(backoffDelay(50, policy, () => 0.999_999)).toBe(1_000);
    expect(backoffDelay(50, DEFAULT_RETRY, () => 0)).toBe(15_000);
  });

  it('reads Retry-After as seconds or an HTTP date, clamped, and honours it as a floor', () => {
    const now = Date.UTC(2025, 0, 1, 0, 0, 0);
    expect(parseRetryAfter('2', now)).toBe(2_000);
    expect(parseRetryAfter('0.5', now)).toBe(500);
    expect(parseRetryAfter(new Date(now + 3_000).toUTCString(), now)).toBe(3_000);
    expect(parseRetryAfter(new Date(now - 3_000).toUTCString(), now)).toBe(0);
    expect(parseRetryAfter('999999', now)).toBe(MAX_RETRY_AFTER_MS);
    for (const bad of [null, undefined, '', 'soon', '-1']) expect(parseRetryAfter(bad, now)).toBeNull();
    expect(retryAfterDelay(2_000, () => 0)).toBe(2_000);
    expect(retryAfterDelay(2_000, () => 0.999)).toBeLessThanOrEqual(2_200);
  });
});

describe('judge', () => {
  const response = (status: number, body = '', retryAfter: string | null = null) =>
    ({ kind: 'response', status, body, retryAfter }) as const;

  it('takes a 200 with per-event rejections as delivered, keeping only rejections that make sense', () => {
    const verdict = judge(
      response(
        200,
        JSON.stringify({
          accepted: 1,
          rejected: [
            { index: 1, code: 'invalid_field', message: 'bad' },
            { index: 1, code: 'dup', message: '' },
            { index: 9, code: 'out_of_range', message: '' },
            'junk',
          ],
        }),
      ),
      2,
    );
    expect(verdict).toEqual({
      kind: 'delivered',
      rejected: [{ index: 1, code: 'invalid_field', message: 'bad' }],
    });
  });

  it('retries a 2xx that is not Vigil’s answer, counting it towards maxAttempts', () => {
    for (const body of ['<html>', '', '[]', '{"ok":true}', '{"accepted":"1"}']) {
      const verdict = judge(response(200, body), 3);
      expect(verdict.kind).toBe('retry');
      expect(verdict.kind === 'retry' && verdict.limited).toBe(true);
    }
  });

  it('splits on 413, refuses other 4xx for good, retries 408/429/503 without limit and 5xx with one', () => {
    expect(judge(response(413), 2).kind).toBe('split');
    expect(judge(response(413), 1).kind).toBe('refused');
    for (const status of [400, 401, 403, 404, 415, 422])
      expect(judge(response(status), 5).kind).toBe('refused');
    for (const status of [408, 429, 503]) {
      expect(judge(response(status, '', '3'), 5)).toMatchObject({
        kind: 'retry',
        limited: false,
        retryAfterMs: 3_000,
      });
    }
    for (const status of [500, 502, 504])
      expect(judge(response(status), 5)).toMatchObject({ kind: 'retry', limited: true });
    expect(judge({ kind: 'failure', reason: 'network', message: 'ECONNREFUSED' }, 5)).toMatchObject({
      kind: 'retry',
      limited: false,
    });
    expect(judge({ kind: 'failure', reason: 'aborted', message: '' }, 5).kind).toBe('aborted');
  });

  it('describes HTTP errors with the server’s code and message', () => {
    const verdict = judge(
      response(
        401,
        JSON.stringify({ error: { code: 'unauthorized', message: 'Missing or invalid credentials' } }),
      ),
      4,
    );
    expect(verdict.kind === 'refused' && verdict.error).toBeInstanceOf(VigilError);
    expect(verdict.kind === 'refused' && verdict.error.message).toBe(
      'HTTP 401 unauthorized: Missing or invalid credentials',
    );
    expect(verdict.kind === 'refused' && verdict.error.count).toBe(4);
  });
});
