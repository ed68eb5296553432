import type { RetentionRule } from '../prune/retention';

/**
 * The retention rule that a prune's settings (or its workflow input) stand for: the prune and
 * `status` derive it alike, so the prune `status` predicts is the one that runs. Workflow-safe
 * (types only), so the prune workflow can use it.
 */
export function retentionRule(s: { minAssetRecords: number; timeout: number; orphanGrace: number }): RetentionRule {
  return { minAssetRecords: s.minAssetRecords, timeoutSeconds: s.timeout, graceSeconds: s.orphanGrace };
}
