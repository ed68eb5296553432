import { describeProgress, UploadRate } from '../../src/client/populate';
import type { PublishProgress } from '../../src/workflows/types';

const uploading: PublishProgress = {
  phase: 'uploading',
  files: 40,
  fileTotal: 100,
  bytes: 4 * 1024 * 1024,
  byteTotal: 10 * 1024 * 1024,
  skipped: 900,
  batches: 1,
  batchTotal: 3,
};

describe('the Job progress line', () => {
  it('shows files, bytes, batches and what was skipped', () => {
    expect(describeProgress(uploading)).toBe('uploading: 40/100 files, 4.0 MiB/10.0 MiB, batch 1/3 (900 unchanged files skipped)');
  });
  it('counts files copied in the bucket among the files done', () => {
    expect(describeProgress({ ...uploading, copied: 25 })).toBe('uploading: 40/100 files, 4.0 MiB/10.0 MiB, batch 1/3, 25 copied in the bucket (900 unchanged files skipped)');
  });
  it('adds the rate and the time left once a rate is known', () => {
    expect(describeProgress(uploading, 2 * 1024 * 1024)).toBe(
      'uploading: 40/100 files, 4.0 MiB/10.0 MiB, batch 1/3, 2.0 MiB/s, about 3s left (900 unchanged files skipped)',
    );
  });
  it('names the phases before and after the uploads', () => {
    expect(describeProgress({ ...uploading, phase: 'waiting-for-prune' })).toMatch(/waiting for a running prune/);
    expect(describeProgress({ ...uploading, phase: 'entry-point' })).toBe('uploading fed-mods.json (every other file of the build is in place)');
  });
  it('says whom a build waiting to go live waits for, and what the go-live step writes', () => {
    const waiting = { ...uploading, phase: 'waiting-to-go-live' as const };
    expect(describeProgress(waiting, 0, ['publish/app/img:1'])).toBe(
      'every new file is up; waiting to go live until publish/app/img:1 (started earlier) has gone live or failed',
    );
    expect(describeProgress(waiting)).toBe('every new file is up; waiting for the go-live turn');
    expect(describeProgress({ ...uploading, phase: 'going-live', files: 97 })).toBe(
      'going live: writing 3 changed and entry files, fed-mods.json last, then the manifest',
    );
    expect(describeProgress({ ...uploading, phase: 'restoring' })).toMatch(/putting the previous build back/);
  });
});

describe('the upload rate the Job reports', () => {
  it('counts from the first upload it sees', () => {
    const rate = new UploadRate();
    expect(rate.observe({ ...uploading, phase: 'staging' }, 0)).toBe(0);
    expect(rate.observe(uploading, 1000)).toBe(0);
    expect(rate.observe({ ...uploading, bytes: uploading.bytes + 4 * 1024 * 1024 }, 3000)).toBe(2 * 1024 * 1024);
  });
  it('says 0 for a poll whose query failed, and goes on from where it was', () => {
    const rate = new UploadRate();
    rate.observe(uploading, 1000);
    expect(rate.observe(undefined, 2000)).toBe(0);
    expect(rate.observe({ ...uploading, bytes: uploading.bytes + 1024 * 1024 }, 2000)).toBe(1024 * 1024);
  });
});
