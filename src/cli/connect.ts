import { Client } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import type { StorageSettings, TemporalSettings } from '../config';
import { oneLine } from '../errors';
import { S3Storage } from '../storage/s3';
import type { Storage } from '../storage/storage';

/** Thrown when the Temporal frontend cannot be reached or refuses the connection. */
export class TemporalUnreachableError extends Error {
  override readonly name = 'TemporalUnreachableError';
}

export async function connectTemporal(settings: TemporalSettings): Promise<{ connection: NativeConnection; client: Client }> {
  let connection: NativeConnection;
  try {
    connection = await NativeConnection.connect({ address: settings.address });
  } catch (err) {
    throw new TemporalUnreachableError(
      `cannot reach Temporal at ${settings.address} (${oneLine(err)}); check --temporal-address / TEMPORAL_ADDRESS`,
    );
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

export function openStorage(settings: StorageSettings, bucket = settings.bucket): Storage {
  return S3Storage.open({
    endpoint: settings.endpoint,
    bucket,
    region: settings.region,
    credentials: settings.credentials,
  });
}
