import type { AppAuditSummary } from './audit';

/** An audit of one app (`app`) or of every app in the bucket (`all`). */
export interface AuditInput {
  bucket: string;
  app?: string;
  all?: boolean;
  /** Apps audited at once by an audit of all. */
  appParallelism: number;
  /** Attempts per activity before the app's audit counts as failed (0 = unlimited). */
  maxAttempts: number;
}

export interface AuditResult {
  bucket: string;
  /** Every app audited, in order. */
  apps: string[];
  ok: number;
  /** Totals over every app. */
  missing: number;
  mismatched: number;
  unreadable: number;
  /** Apps whose live fed-mods.json is not their newest build's. */
  liveMismatches: number;
  /** Per app with a problem: counts and the first keys. Apps not here were ok. */
  problems: AppAuditSummary[];
  /** Apps whose audit could not run (the store refused, ...), with why. */
  failed: Array<{ app: string; reason: string }>;
}
