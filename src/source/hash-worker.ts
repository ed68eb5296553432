import { parentPort, workerData } from 'node:worker_threads';
import { hashFilesSync, type FileToHash } from './hash';

/** One thread of the hash pool: hashes each chunk of files it is sent and answers with the digests. */
const partSize = (workerData as { partSize?: number } | undefined)?.partSize;
const buffer = Buffer.allocUnsafe(1024 * 1024);
parentPort!.on('message', (chunk: { files: FileToHash[] }) => {
  parentPort!.postMessage({ result: hashFilesSync(chunk.files, partSize, buffer) });
});
