import { LISTING_TRUST_MS, listingStillHolds } from '../../src/bucket/listing-trust';

const at = (epoch: string, changes: number) => ({ kind: 'counted' as const, generation: { epoch, changes } });

describe('listingStillHolds', () => {
  it('holds when the lock granted no go-live turn or exclusive lock between the listing and this turn', () => {
    expect(listingStillHolds(at('e1', 3), { epoch: 'e1', changes: 3 }, 1000)).toBe(true);
    // An idle lock: the workflow granting this turn started after the listing, and this is its first such grant.
    expect(listingStillHolds({ kind: 'idle' }, { epoch: 'e2', changes: 0 }, 1000)).toBe(true);
  });

  it('does not hold after another grant, in another lock workflow, or when the lock could not say', () => {
    expect(listingStillHolds(at('e1', 3), { epoch: 'e1', changes: 4 }, 1000)).toBe(false);
    expect(listingStillHolds(at('e1', 3), { epoch: 'e2', changes: 3 }, 1000)).toBe(false);
    expect(listingStillHolds({ kind: 'idle' }, { epoch: 'e2', changes: 1 }, 1000)).toBe(false);
    expect(listingStillHolds(undefined, { epoch: 'e1', changes: 3 }, 1000)).toBe(false);
    // A lock workflow that counts nothing (started before generations) grants without one.
    expect(listingStillHolds(at('e1', 3), undefined, 1000)).toBe(false);
  });

  it('does not hold for a listing older than the trust window, or from the future', () => {
    expect(listingStillHolds(at('e1', 3), { epoch: 'e1', changes: 3 }, LISTING_TRUST_MS + 1)).toBe(false);
    expect(listingStillHolds(at('e1', 3), { epoch: 'e1', changes: 3 }, -1)).toBe(false);
  });
});
