// The S3 client of an object store of the spec: path-style addressing (S3-compatible stores), and
// checksums only where the API requires them (many such stores refuse the SDK's default trailers).
import { S3Client } from '@aws-sdk/client-s3';
import type { ObjectStore } from '../api/schema.js';

export interface S3Credentials {
  accessKeyId: string;
  secretAccessKey: string;
}

export function s3Client(store: Pick<ObjectStore, 'endpoint' | 'region'>, credentials: S3Credentials): S3Client {
  return new S3Client({
    endpoint: store.endpoint,
    region: store.region,
    forcePathStyle: true,
    credentials,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    // A wrong endpoint or key fails the backup promptly instead of retrying for minutes.
    maxAttempts: 3,
  });
}
