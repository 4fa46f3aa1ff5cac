import { errorType } from './error-type.js';
import { type EventProps, type TrackFunction, withExtra } from './types.js';

export interface LlmRequestContext {
  user?: string;
  space?: string;
  model?: string;
  props?: EventProps;
}

export interface LlmUsage {
  promptTokens?: number;
  completionTokens?: number;
  /** Cached prompt tokens, already counted in `promptTokens` (priced at the cache-read price). */
  cacheReadTokens?: number;
  cacheHit?: boolean;
  /**
   * What the request cost in US dollars, as the provider reported it. It wins over the server's
   * price table; without it the server prices the tokens by `model`.
   */
  costUsd?: number;
  props?: EventProps;
}

/** A running LLM request; `complete()` or `fail()` records it once, later calls do nothing. */
export interface LlmRequestTimer {
  /** Context assembly is done and the model call starts: splits `context_ms` from `llm_ms`. */
  contextDone(): void;
  complete(usage?: LlmUsage): void;
  /** Records the request as failed with a category derived from `error` (see `errorType`), or `usage.errorType`. */
  fail(error: unknown, usage?: LlmUsage & { errorType?: string }): void;
}

/** An LLM request measured elsewhere. */
export interface LlmRequestRecord extends LlmRequestContext, LlmUsage {
  totalMs: number;
  contextMs?: number;
  llmMs?: number;
  errorType?: string;
}

/** LLM request telemetry: `llm.request`. */
export interface LlmTelemetry {
  /**
   * Starts timing one request.
   *
   * @example
   * ```ts
   * const r = client.llm.start({ user: 'u_42', space: 'sp_7', model: 'gpt-4o' });
   * const context = await buildContext();
   * r.contextDone();
   * try {
   *   const res = await openai.chat.completions.create({ model: 'gpt-4o', messages: context });
   *   r.complete({
   *     promptTokens: res.usage?.prompt_tokens,
   *     completionTokens: res.usage?.completion_tokens,
   *     cacheReadTokens: res.usage?.prompt_tokens_details?.cached_tokens,
   *   });
   * } catch (error) {
   *   r.fail(error);
   *   throw error;
   * }
   * ```
   */
  start(context?: LlmRequestContext): LlmRequestTimer;
  /**
   * Records a request timed by the caller.
   *
   * @example
   * ```ts
   * client.llm.record({ totalMs: 812, contextMs: 40, llmMs: 772, promptTokens: 1200, completionTokens: 180, model: 'gpt-4o' });
   * // A provider that reports the cost (it wins over the server's price table):
   * client.llm.record({ totalMs: 640, promptTokens: 900, completionTokens: 90, model: 'router/auto', costUsd: 0.0031 });
   * ```
   */
  record(input: LlmRequestRecord): void;
}

const ms = (x: number) => Math.max(0, Math.round(x * 1000) / 1000);

function llmProps(input: LlmRequestRecord): EventProps {
  return withExtra(
    {
      total_ms: input.totalMs,
      context_ms: input.contextMs,
      llm_ms: input.llmMs,
      prompt_tokens: input.promptTokens,
      completion_tokens: input.completionTokens,
      cache_read_tokens: input.cacheReadTokens,
      cache_hit: input.cacheHit,
      cost_usd: input.costUsd,
      error_type: input.errorType,
      user: input.user,
      space: input.space,
      model: input.model,
    },
    input.props === undefined ? undefined : { ...input.props },
  );
}

export function llmTelemetry(track: TrackFunction, now: () => number): LlmTelemetry {
  const record = (input: LlmRequestRecord) => {
    try {
      track('llm.request', llmProps(input));
    } catch {
      // a hostile input object: nothing to record
    }
  };
  return {
    record,
    start(context = {}) {
      const startedAt = now();
      let contextAt: number | null = null;
      let done = false;
      let ctx: LlmRequestContext = {};
      try {
        ctx = { ...context };
      } catch {
        // keep timing without context
      }
      const finish = (
        usage: (LlmUsage & { errorType?: string }) | undefined,
        failure: string | undefined,
      ) => {
        if (done) return;
        done = true;
        try {
          const end = now();
          const u = usage ?? {};
          record({
            ...ctx,
            totalMs: ms(end - startedAt),
            contextMs: contextAt === null ? undefined : ms(contextAt - startedAt),
            llmMs: ms(end - (contextAt ?? startedAt)),
            promptTokens: u.promptTokens,
            completionTokens: u.completionTokens,
            cacheReadTokens: u.cacheReadTokens,
            cacheHit: u.cacheHit,
            costUsd: u.costUsd,
            errorType: failure,
            props: u.props || ctx.props ? { ...ctx.props, ...u.props } : undefined,
          });
        } catch {
          // nothing to record
        }
      };
      return {
        contextDone() {
          if (contextAt === null && !done) contextAt = now();
        },
        complete: (usage) => finish(usage, undefined),
        fail(error, usage) {
          let category = 'error';
          try {
            category = usage?.errorType === undefined ? errorType(error) : errorType(usage.errorType);
          } catch {
            // keep 'error'
          }
          finish(usage, category);
        },
      };
    },
  };
}
