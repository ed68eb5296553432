import { createHash } from 'node:crypto';
import { prunePlanKey, prunePlanPrefix } from '../contract/keys';
import {
  parsePrunePlan,
  parsePrunePlanPart,
  prunePlanPartKey,
  prunePlanPartsPrefix,
  type PrunePlanHead,
  type PrunePlanPart,
  type PrunePlanRecord,
} from '../contract/prune-plan';
import type { ObjectInfo, Storage } from '../storage/storage';
import { manifestsEnd } from '../prune/plan';
import { collect } from './listings';

/**
 * Prune plan records (`pushcache/prune-plans/<app>/<run>.json`): the keys one prune deletes,
 * written, read back, removed. A plan of up to one part's keys is one record (version 1, as
 * earlier versions wrote it); a larger one is written in parts as it is decided, then a head
 * naming them (version 2), so neither the planner nor the deleter holds every key.
 */

/** Keys in one part of a plan: about 0.6 MiB of JSON, ten DeleteObjects calls. */
export const PLAN_PART_KEYS = 10_000;

const JSON_RECORD = { contentType: 'application/json', cacheControl: 'no-cache' };

/** Every plan record of the app, parts of version-2 plans included, unread. */
export function listPrunePlans(storage: Storage, app: string): Promise<ObjectInfo[]> {
  return collect(storage.list(prunePlanPrefix(app)));
}

/** Whether `key` is the plan record `planKey` or one of its parts. */
export function isOfPlan(planKey: string, key: string): boolean {
  return key === planKey || key.startsWith(prunePlanPartsPrefix(planKey));
}

/**
 * Records the keys the prune `planId` of `app` deletes, in the order they are added (manifests
 * first). Holds at most one part's keys: each full part is written as soon as it fills.
 */
export class PrunePlanWriter {
  readonly planKey: string;
  private keys: string[] = [];
  private manifests = 0;
  private total = 0;
  private readonly parts: PrunePlanHead['parts'] = [];

  /** `beforeWrite` runs before every write, to stop an attempt that must no longer write (throws). */
  constructor(
    private readonly storage: Storage,
    private readonly app: string,
    planId: string,
    private readonly beforeWrite: () => void = () => undefined,
    private readonly partKeys = PLAN_PART_KEYS,
  ) {
    this.planKey = prunePlanKey(app, planId);
  }

  /** Counts the keys added so far. */
  get count(): number {
    return this.total;
  }

  async add(key: string): Promise<void> {
    if (this.total === this.manifests && key.startsWith('manifests/')) this.manifests++;
    this.keys.push(key);
    this.total++;
    if (this.keys.length >= this.partKeys) await this.flush();
  }

  /** Writes what is left and the record that makes the plan exist; undefined when no key was added. */
  async finish(): Promise<string | undefined> {
    if (this.total === 0) return undefined;
    if (this.parts.length === 0) {
      // Fits one record: written as earlier versions write and read it.
      const record: PrunePlanRecord = { version: 1, app: this.app, keys: this.keys };
      await this.put(this.planKey, Buffer.from(JSON.stringify(record)));
      return this.planKey;
    }
    if (this.keys.length > 0) await this.flush();
    const head: PrunePlanHead = { version: 2, app: this.app, total: this.total, manifests: this.manifests, parts: this.parts };
    await this.put(this.planKey, Buffer.from(JSON.stringify(head)));
    return this.planKey;
  }

  private async flush(): Promise<void> {
    const part: PrunePlanPart = { version: 2, app: this.app, keys: this.keys };
    const body = Buffer.from(JSON.stringify(part));
    const key = prunePlanPartKey(this.planKey, this.parts.length);
    await this.put(key, body);
    this.parts.push({ key, count: this.keys.length, sha256: createHash('sha256').update(body).digest('hex') });
    this.keys = [];
  }

  private async put(key: string, body: Buffer): Promise<void> {
    this.beforeWrite();
    await this.storage.put(key, body, JSON_RECORD);
  }
}

/** A recorded plan, read part by part: `total` keys, the first `manifests` of them manifests. */
export interface StoredPrunePlan {
  total: number;
  manifests: number;
  /** Key counts of the parts, in order. */
  partSizes: number[];
  /** The keys of part `index`, checked to be its app's (and, for a version-2 plan, the bytes its head recorded). */
  readPart(index: number): Promise<string[]>;
}

/** The plan at `planKey`, of either version; undefined when it is gone. */
export async function openPrunePlan(storage: Storage, planKey: string): Promise<StoredPrunePlan | undefined> {
  const body = await storage.get(planKey);
  if (!body) return undefined;
  const plan = parsePrunePlan(planKey, body.toString('utf8'));
  if (plan.version === 1) {
    const keys = plan.keys;
    return { total: keys.length, manifests: manifestsEnd(keys), partSizes: keys.length > 0 ? [keys.length] : [], readPart: async () => keys };
  }
  return {
    total: plan.total,
    manifests: plan.manifests,
    partSizes: plan.parts.map((p) => p.count),
    async readPart(index) {
      const part = await storage.get(plan.parts[index].key);
      // A head without its part was tampered with or half-removed by hand: refuse to guess.
      if (!part) throw new Error(`part ${plan.parts[index].key} of prune plan ${planKey} is missing; remove the plan to prune again`);
      return parsePrunePlanPart(plan, index, part);
    },
  };
}

/** The keys a plan lists, every part read; undefined when it is gone. For small plans and tests. */
export async function readPrunePlan(storage: Storage, planKey: string): Promise<string[] | undefined> {
  const plan = await openPrunePlan(storage, planKey);
  if (!plan) return undefined;
  const keys: string[] = [];
  for (let i = 0; i < plan.partSizes.length; i++) keys.push(...(await plan.readPart(i)));
  return keys;
}

/**
 * Removes a plan: its prune finished, or will not run. The record goes first, so no delete can
 * start on a plan whose parts are going; then every part under the plan's prefix (also those an
 * earlier attempt wrote and its retry did not). Safe to repeat: a removal stopped half-way is
 * finished by the next call, or its parts are collected with the stale records.
 */
export async function discardPrunePlan(storage: Storage, planKey: string): Promise<void> {
  await storage.delete([planKey]);
  const parts: string[] = [];
  for await (const o of storage.list(prunePlanPartsPrefix(planKey))) {
    parts.push(o.key);
    if (parts.length === 1000) await storage.delete(parts.splice(0));
  }
  if (parts.length > 0) await storage.delete(parts);
}
