import type { LockGeneration } from '../contract/lock-generation';

/**
 * Whether the listing a publish staged from still describes the app's objects when the publish
 * is granted its go-live turn, so that the go-live step need not list them again (for 10,000
 * objects, as long as hashing the build).
 *
 * Only holders of a go-live turn (publishes going live, rollbacks) and of the exclusive lock
 * (prunes) replace or delete objects a build holds; the app lock counts those grants (see
 * `LockGeneration`). Other publishes only create objects that did not exist, which the Job that
 * staged sees in its own create-only writes. So the listing still holds when no such grant came
 * between reading it and this turn. Writers outside the lock protocol (a person, valpop) are
 * bounded by trusting a listing for ten minutes at most.
 */

/** What the app lock said right before the listing was read; undefined when it could not say. */
export type LockAtListing =
  /** No lock workflow was running: nothing was held, and any grant since is counted by a workflow started after. */
  | { kind: 'idle' }
  /** Running, counting generations, and no go-live turn or exclusive lock held at that moment. */
  | { kind: 'counted'; generation: LockGeneration };

/** Beyond this age a listing is read again at go-live whatever the lock says. */
export const LISTING_TRUST_MS = 10 * 60 * 1000;

export function listingStillHolds(atListing: LockAtListing | undefined, turn: LockGeneration | undefined, ageMs: number): boolean {
  if (!atListing || !turn || ageMs < 0 || ageMs > LISTING_TRUST_MS) return false;
  // An idle lock ends after minutes without requests, far longer than a staged listing is taken
  // after it is read: the workflow granting this turn is the first one started since.
  if (atListing.kind === 'idle') return turn.changes === 0;
  return atListing.generation.epoch === turn.epoch && atListing.generation.changes === turn.changes;
}
