// Backups, the pure part: where a backup's files go, and what its manifest holds.
import type { ObjectStore } from '../api/schema.js';

/** 2026-12-04T10:15:00.123Z -> 20261204T101500Z: sorts as time does, and is a safe key segment. */
export function backupTimestamp(at: Date): string {
  return at.toISOString().replace(/\.\d+Z$/, 'Z').replace(/[-:]/g, '');
}

/** The folder of one base backup: <path>/<resource>/base/<timestamp>/ (no leading or doubled slash). */
export function basePrefix(store: Pick<ObjectStore, 'path'>, resource: string, at: Date): string {
  const path = store.path.split('/').filter((s) => s !== '');
  return [...path, resource, 'base', backupTimestamp(at)].join('/') + '/';
}

export const DUMP_FILE = 'dump.rdb';
export const MANIFEST_FILE = 'manifest.json';

/** manifest.json, beside dump.rdb: enough to check the file and to know what can load it. */
export interface BackupManifest {
  /** The server that wrote the RDB (redis or valkey) and its version, from INFO server. */
  engine: string;
  engineVersion: string;
  rdbVersion: number;
  /** The replication ID and offset the RDB is at. */
  replid: string;
  offset: number;
  size: number;
  sha256: string;
  startedAt: string;
  completedAt: string;
  /** The resource and pod it was taken from. */
  resource: string;
  sourcePod: string;
}
