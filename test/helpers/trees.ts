import { createHash } from 'node:crypto';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { GetObjectCommand, HeadObjectCommand } from '@aws-sdk/client-s3';
import { createS3Client } from '../../src/storage/s3';
import { testServers } from './servers';

export const EXAMPLE_DIR = path.resolve(__dirname, '..', '..', 'example');

export function copyExample(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pushcache-example-'));
  cpSync(EXAMPLE_DIR, dir, { recursive: true });
  return dir;
}

/** A deterministic tree of `count` small files plus fed-mods.json and index.html. */
export function generatedTree(count: number, size = 2048): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pushcache-gen-'));
  for (let i = 0; i < count; i++) {
    const rel = `chunks/${i % 10}/c${i}.${i.toString(16)}.js`;
    mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    writeFileSync(path.join(dir, rel), Buffer.alloc(size, `${i};`));
  }
  writeFileSync(path.join(dir, 'index.html'), '<html></html>');
  writeFileSync(path.join(dir, 'fed-mods.json'), JSON.stringify({ app: { entry: ['/apps/x/chunks/0/c0.0.js'] } }));
  return dir;
}

export const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

export interface StoredObject {
  body: Buffer;
  contentType?: string;
  cacheControl?: string;
  metadata?: Record<string, string>;
}

export async function readObject(bucket: string, key: string): Promise<StoredObject> {
  const { minioEndpoint, credentials } = testServers();
  const client = createS3Client({ endpoint: minioEndpoint, bucket, credentials });
  try {
    const out = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return {
      body: Buffer.from(await out.Body!.transformToByteArray()),
      contentType: out.ContentType,
      cacheControl: out.CacheControl,
      metadata: out.Metadata,
    };
  } finally {
    client.destroy();
  }
}

export async function objectExists(bucket: string, key: string): Promise<boolean> {
  const { minioEndpoint, credentials } = testServers();
  const client = createS3Client({ endpoint: minioEndpoint, bucket, credentials });
  try {
    await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    return true;
  } catch {
    return false;
  } finally {
    client.destroy();
  }
}

export function readLocal(dir: string, rel: string): Buffer {
  return readFileSync(path.join(dir, rel));
}
