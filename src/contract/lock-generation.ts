/**
 * Which lock workflow (`epoch`: the run ID of its first run, kept across continue-as-new) and how
 * many go-live turns and exclusive locks it had granted (`changes`). Those holders are the only
 * ones that replace or delete objects a build already holds; so a publish that read the app's
 * listing when the lock had granted N of them, and that is granted its go-live turn as the
 * N+1st of the same epoch, knows that listing still holds (bucket/listing-trust.ts).
 */
export interface LockGeneration {
  epoch: string;
  changes: number;
}
