import { Client } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import type { StorageSettings, TemporalSettings } from '../config';
import { oneLine } from '../errors';
import { FilesystemStorage } from '../storage/filesystem';
import { S3Storage } from '../storage/s3';
import type { ReadableStorage } from '../storage/storage';

/** Thrown when the Temporal frontend cannot be reached or refuses the connection. */
export class TemporalUnreachableError extends Error {
  override readonly name = 'TemporalUnreachableError';
}

export async function connectTemporal(settings: TemporalSettings): Promise<{ connection: NativeConnection; client: Client }> {
  let connection: NativeConnection;
  try {
    connection = await NativeConnection.connect({ address: settings.address, ...settings.connection });
  } catch (err) {
    const tls = settings.connection?.tls;
    const check = tls
      ? 'check the address and the TLS settings: the CA that signed the server certificate (--temporal-tls-ca), the client certificate and key if the server requires mTLS, and the server name'
      : 'check --temporal-address / TEMPORAL_ADDRESS, and whether the server needs TLS (--temporal-tls)';
    throw new TemporalUnreachableError(`cannot reach Temporal at ${settings.address}${tls ? ' over TLS' : ''} (${oneLine(err)}); ${check}`);
  }
  return { connection, client: new Client({ connection, namespace: settings.namespace }) };
}

/** Runs `fn` with a client, and closes the connection after it whatever happens. */
export async function withTemporalClient<T>(settings: TemporalSettings, fn: (client: Client) => Promise<T>): Promise<T> {
  const { connection, client } = await connectTemporal(settings);
  try {
    return await fn(client);
  } finally {
    // Never let a failed close hide the error that ended the command.
    await connection.close().catch(() => undefined);
  }
}

/** In filesystem mode a bucket is the directory of that name under the root, as in MinIO's data directory. */
export function openStorage(settings: StorageSettings, bucket = settings.bucket): ReadableStorage {
  if (settings.filesystemRoot !== undefined) return new FilesystemStorage({ root: settings.filesystemRoot, bucket });
  return S3Storage.open({
    endpoint: settings.endpoint,
    bucket,
    region: settings.region,
    credentials: settings.credentials,
    forcePathStyle: settings.forcePathStyle,
    caCertificates: settings.caCertificates,
    serverSideEncryption: settings.serverSideEncryption,
    timeouts: settings.timeouts,
  });
}
