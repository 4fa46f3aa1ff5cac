import type { AlertsConfig } from '../config/index.js';
import type { RuleInput } from './rule.js';

/**
 * The rules every new project starts with (editable and deletable like any other): error rate
 * above 10%, total latency p95 above 5 s, tokens of the last day above the daily budget + 20%,
 * request rate above capacity + 50% (budget and capacity from the `alerts` configuration); and,
 * when `alerts.dailyCostBudgetUsd` is set, cost of the last day above it + 20%.
 */
export function defaultRules(
  config: Pick<AlertsConfig, 'dailyTokenBudget' | 'capacityPerMinute' | 'dailyCostBudgetUsd'>,
): RuleInput[] {
  const budget = config.dailyCostBudgetUsd;
  const costRule: RuleInput[] =
    budget === undefined
      ? []
      : [
          {
            name: 'Daily cost budget exceeded',
            metric: 'costUsd',
            operator: '>',
            threshold: Math.round(budget * 1.2 * 100) / 100,
            window: '1d',
            interval: '1m',
            consecutive: 1,
            severity: 'warning',
            noData: 'keep',
            annotations: {
              description: `LLM cost of the last 24 h is above the daily budget ($${budget}) + 20%.`,
            },
          },
        ];
  return [
    {
      name: 'High error rate',
      metric: 'errorRate',
      operator: '>',
      threshold: 10,
      window: '5m',
      consecutive: 3,
      minSamples: 20,
      severity: 'critical',
      noData: 'keep',
      annotations: { description: 'More than 10% of LLM requests failed in the last 5 minutes.' },
    },
    {
      name: 'Slow LLM responses',
      metric: 'totalLatency.p95',
      operator: '>',
      threshold: 5000,
      window: '5m',
      consecutive: 3,
      minSamples: 20,
      severity: 'warning',
      noData: 'keep',
      annotations: { description: 'The 95th percentile of total latency is above 5 s.' },
    },
    {
      name: 'Token budget exceeded',
      metric: 'totalTokens',
      operator: '>',
      threshold: Math.round(config.dailyTokenBudget * 1.2),
      window: '1d',
      interval: '1m',
      consecutive: 1,
      severity: 'warning',
      noData: 'keep',
      annotations: {
        description: `Tokens of the last 24 h are above the daily budget (${config.dailyTokenBudget}) + 20%.`,
      },
    },
    {
      name: 'Request rate over capacity',
      metric: 'requestRate',
      operator: '>',
      threshold: config.capacityPerMinute * 1.5,
      window: '5m',
      consecutive: 3,
      severity: 'warning',
      noData: 'keep',
      annotations: {
        description: `Requests per minute are above capacity (${config.capacityPerMinute}) + 50%.`,
      },
    },
    ...costRule,
  ];
}
