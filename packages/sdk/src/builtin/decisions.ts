import { type EventProps, type RecommendationAction, type TrackFunction, withExtra } from './types.js';

/** What identifies a recommendation shown to an admin. */
export interface RecommendationContext {
  signalId: string;
  recommendationType: string;
  /** The recommendation's confidence at the time it is shown, 0..1. */
  confidence?: number;
  explanationVersion?: string;
  adminUser?: string;
  /** More props, sent next to the typed ones. */
  props?: EventProps;
}

export interface RecommendationDecision extends RecommendationContext {
  action: RecommendationAction;
  decisionTimeMs?: number;
}

/** A recommendation on screen; the first decision on it is recorded with the time since it was shown. */
export interface ShownRecommendation {
  /** When it was shown, on the monotonic clock (ms). */
  readonly shownAt: number;
  accept(props?: EventProps): void;
  ignore(props?: EventProps): void;
  override(props?: EventProps): void;
  /** Records `action` once; later calls on the same handle do nothing. */
  decide(action: Exclude<RecommendationAction, 'view'>, props?: EventProps): void;
}

export interface OutcomeInput {
  signalId: string;
  outcomeStatus: string;
  resolutionTimeHours?: number;
  adminNoteId?: string;
  props?: EventProps;
}

/** Decision telemetry: `decision.recommendation` and `decision.outcome`. */
export interface DecisionTelemetry {
  /**
   * Records one action on a recommendation.
   *
   * @example
   * ```ts
   * client.decisions.recommendation({ action: 'override', signalId: 's_81', recommendationType: 'suspend_account', confidence: 0.62 });
   * ```
   */
  recommendation(input: RecommendationDecision): void;
  /**
   * Records that a recommendation is shown (`action: 'view'`, unless `trackView` is false) and returns a
   * handle whose `accept()`, `ignore()` or `override()` records the decision with `decision_time_ms`.
   *
   * @example
   * ```ts
   * const shown = client.decisions.shown({ signalId: 's_81', recommendationType: 'suspend_account', confidence: 0.62, explanationVersion: 'x3' });
   * // … the admin clicks …
   * shown.accept();
   * ```
   */
  shown(input: RecommendationContext & { trackView?: boolean }): ShownRecommendation;
  /**
   * Records how a signal turned out (the server keeps one outcome per signal).
   *
   * @example
   * ```ts
   * client.decisions.outcome({ signalId: 's_81', outcomeStatus: 'false_positive', resolutionTimeHours: 5.5 });
   * ```
   */
  outcome(input: OutcomeInput): void;
}

function recommendationProps(
  input: RecommendationContext,
  action: RecommendationAction,
  decisionTimeMs?: number,
) {
  return withExtra(
    {
      action,
      signal_id: input.signalId,
      recommendation_type: input.recommendationType,
      confidence: input.confidence,
      decision_time_ms: decisionTimeMs,
      admin_user: input.adminUser,
      explanation_version: input.explanationVersion,
    },
    input.props,
  );
}

export function decisionTelemetry(track: TrackFunction, now: () => number): DecisionTelemetry {
  return {
    recommendation(input) {
      try {
        track('decision.recommendation', recommendationProps(input, input.action, input.decisionTimeMs));
      } catch {
        // a hostile input object: nothing to record
      }
    },
    shown(input) {
      const shownAt = now();
      let context: RecommendationContext | null = null;
      try {
        context = { ...input };
        if (input.trackView !== false) track('decision.recommendation', recommendationProps(context, 'view'));
      } catch {
        context = null;
      }
      let decided = false;
      const decide = (action: Exclude<RecommendationAction, 'view'>, props?: EventProps) => {
        if (decided || !context) return;
        decided = true;
        try {
          const elapsed = Math.max(0, Math.round((now() - shownAt) * 1000) / 1000);
          const merged = props ? { ...context, props: { ...context.props, ...props } } : context;
          track('decision.recommendation', recommendationProps(merged, action, elapsed));
        } catch {
          // nothing to record
        }
      };
      return {
        shownAt,
        accept: (props) => decide('accept', props),
        ignore: (props) => decide('ignore', props),
        override: (props) => decide('override', props),
        decide,
      };
    },
    outcome(input) {
      try {
        track(
          'decision.outcome',
          withExtra(
            {
              signal_id: input.signalId,
              outcome_status: input.outcomeStatus,
              resolution_time_hours: input.resolutionTimeHours,
              admin_note_id: input.adminNoteId,
            },
            input.props,
          ),
        );
      } catch {
        // nothing to record
      }
    },
  };
}
