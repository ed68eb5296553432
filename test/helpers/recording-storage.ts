import type { ObjectBody, ObjectInfo, Storage, WriteOptions } from '../../src/storage/storage';

export interface WriteEvent {
  key: string;
  phase: 'start' | 'end';
}

/** Wraps a real storage and records the order in which writes start and finish. */
export class RecordingStorage implements Storage {
  readonly description: string;

  /** Pass one `events` array to several wrappers to see their writes in one order. */
  constructor(
    private readonly inner: Storage,
    readonly events: WriteEvent[] = [],
    private readonly delayMs = 0,
  ) {
    this.description = inner.description;
  }

  checkAccess(): Promise<void> {
    return this.inner.checkAccess();
  }
  async put(key: string, body: ObjectBody, options: WriteOptions): Promise<boolean> {
    this.events.push({ key, phase: 'start' });
    if (this.delayMs) await new Promise((r) => setTimeout(r, this.delayMs));
    const written = await this.inner.put(key, body, options);
    this.events.push({ key, phase: 'end' });
    return written;
  }
  async copy(fromKey: string, toKey: string): Promise<boolean> {
    this.events.push({ key: toKey, phase: 'start' });
    const copied = await this.inner.copy(fromKey, toKey);
    this.events.push({ key: toKey, phase: 'end' });
    return copied;
  }
  async putIfAbsent(key: string, body: Buffer, options: WriteOptions): Promise<boolean> {
    this.events.push({ key, phase: 'start' });
    const created = await this.inner.putIfAbsent(key, body, options);
    this.events.push({ key, phase: 'end' });
    return created;
  }
  get(key: string): Promise<Buffer | undefined> {
    return this.inner.get(key);
  }
  list(prefix: string): AsyncIterable<ObjectInfo> {
    return this.inner.list(prefix);
  }
  listChildren(prefix: string): Promise<string[]> {
    return this.inner.listChildren(prefix);
  }
  delete(keys: readonly string[]): Promise<void> {
    return this.inner.delete(keys);
  }

  /** Index in `events` of the given phase of the first write of a key matching `test`. */
  indexOf(test: (key: string) => boolean, phase: WriteEvent['phase']): number {
    return this.events.findIndex((e) => e.phase === phase && test(e.key));
  }
  lastIndexOf(test: (key: string) => boolean, phase: WriteEvent['phase']): number {
    for (let i = this.events.length - 1; i >= 0; i--) if (this.events[i].phase === phase && test(this.events[i].key)) return i;
    return -1;
  }
}
