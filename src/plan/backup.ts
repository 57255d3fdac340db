// Backups, the pure part: where a backup's files go, and what its manifest holds.
import type { NodeStatus, ObjectStore } from '../api/schema.js';

/** 2026-12-04T10:15:00.123Z -> 20261204T101500Z: sorts as time does, and is a safe key segment. */
export function backupTimestamp(at: Date): string {
  return at.toISOString().replace(/\.\d+Z$/, 'Z').replace(/[-:]/g, '');
}

/** The folder of the base backups of a resource: <path>/<resource>/base/ (no leading or doubled slash). */
export function baseRoot(store: Pick<ObjectStore, 'path'>, resource: string): string {
  const path = store.path.split('/').filter((s) => s !== '');
  return [...path, resource, 'base'].join('/') + '/';
}

/** The folder of one base backup: <path>/<resource>/base/<timestamp>/. */
export function basePrefix(store: Pick<ObjectStore, 'path'>, resource: string, at: Date): string {
  return `${baseRoot(store, resource)}${backupTimestamp(at)}/`;
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

export type SourceChoice = { pod: NodeStatus } | { reason: 'NoSource'; message: string };

/**
 * The pod a backup streams from, out of status.nodes: the linked replica with the highest offset
 * (the most up to date; ties by name), leaving out the only read target while another replica is
 * linked (a full sync forks the pod it runs on, and that pod would serve every read meanwhile). With
 * one linked replica, that replica: it keeps the load off the primary, whose writes are what a
 * backup protects. The primary only when it has no replica at all.
 */
export function backupSource(nodes: NodeStatus[]): SourceChoice {
  const replicas = nodes.filter((n) => n.role === 'replica');
  const linked = replicas.filter((n) => n.link === 'up' && n.podIP !== undefined && n.offset !== undefined);
  const readers = nodes.filter((n) => n.read);
  const spared = linked.length > 1 && readers.length === 1 ? readers[0]!.name : undefined;
  const candidates = linked.filter((n) => n.name !== spared).sort((a, b) => b.offset! - a.offset! || a.name.localeCompare(b.name));
  if (candidates[0]) return { pod: candidates[0] };
  const primary = nodes.find((n) => n.role === 'primary' && n.podIP !== undefined);
  if (replicas.length === 0 && primary) return { pod: primary };
  return {
    reason: 'NoSource',
    message: replicas.length > 0 ? `no replica is linked to its parent (${replicas.map((r) => `${r.name}: ${r.link ?? 'unknown'}`).join(', ')}): waiting` : 'no pod has an address yet: waiting',
  };
}
