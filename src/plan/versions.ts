// Server versions and the one rule that makes a version change unsafe: a replica cannot load an RDB
// file in a newer format than its own server writes ("Can't handle RDB format version N"; Redis 6.2
// then exits, Redis 7.0 retries for ever). A rolling update re-creates replicas first, so an image
// whose server is older than a running pod's would leave every re-created replica unable to sync:
// such a change is refused before any pod is touched.
import type { ObservedPod } from './observation.js';

type ServerFamily = 'redis' | 'valkey';

export interface ServerVersion {
  server: ServerFamily;
  major: number;
  minor: number;
}

/** The RDB format version each release line writes (src/rdb.h, RDB_VERSION), oldest first. Lines
 * newer than the last entry write at least its format; they are not judged as targets. */
const RDB_FORMAT: Record<ServerFamily, [major: number, minor: number, rdb: number][]> = {
  redis: [
    [6, 0, 9],
    [6, 2, 9],
    [7, 0, 10],
    [7, 2, 11],
    [7, 4, 12],
    [8, 0, 12],
  ],
  // Valkey forked from Redis 7.2.4 and kept its format through 8.1.
  valkey: [
    [7, 2, 11],
    [8, 0, 11],
    [8, 1, 11],
  ],
};

/** The server and release line an image names, from its repository and tag (`redis:7.0`,
 * `valkey/valkey:8.1-alpine`, `registry/x/redis:6.2.14`); undefined when the tag carries no version. */
export function imageVersion(image: string): ServerVersion | undefined {
  const ref = image.replace(/@.*$/, '');
  const tag = /:([^/:]+)$/.exec(ref);
  if (!tag) return undefined;
  const repo = ref.slice(0, tag.index);
  const version = parseVersion(tag[1]!);
  return version && { server: repo.toLowerCase().includes('valkey') ? 'valkey' : 'redis', ...version };
}

function parseVersion(text: string): { major: number; minor: number } | undefined {
  const m = /^v?(\d+)\.(\d+)/.exec(text);
  return m ? { major: Number(m[1]), minor: Number(m[2]) } : undefined;
}

/** The RDB format a server writes: exact for a known line, a lower bound (`atLeast`) for a newer one;
 * undefined for a line older than the table. */
export function rdbFormat(v: ServerVersion): { rdb: number; atLeast: boolean } | undefined {
  const table = RDB_FORMAT[v.server];
  const at = (e: [number, number, number]): number => e[0] * 1000 + e[1];
  const key = v.major * 1000 + v.minor;
  const known = table.filter((e) => at(e) <= key);
  const entry = known[known.length - 1];
  if (!entry) return undefined;
  return { rdb: entry[2], atLeast: entry === table[table.length - 1] && key > at(entry) };
}

/** The release line of the server a pod runs (INFO server), once it answered. */
function runningVersion(pod: Pick<ObservedPod, 'server'>): ServerVersion | undefined {
  const parsed = pod.server && parseVersion(pod.server.version);
  return parsed && { server: pod.server!.server, ...parsed };
}

const label = (v: ServerVersion): string => `${v.server === 'valkey' ? 'Valkey' : 'Redis'} ${v.major}.${v.minor}`;

/** Why `image` must not be rolled onto these pods, or undefined when it may: its server writes (and
 * so reads) an older RDB format than a running pod's server. Images whose version cannot be told
 * from the tag, or is newer than the table, are let through: a pod that then cannot sync stops the
 * roll at that first pod (the stall rule of the rolling update). */
export function downgradeRefusal(image: string, pods: Pick<ObservedPod, 'name' | 'server'>[]): string | undefined {
  const target = imageVersion(image);
  const targetFormat = target && rdbFormat(target);
  if (!target || !targetFormat || targetFormat.atLeast) return undefined;
  for (const pod of pods) {
    if (!pod.server) continue;
    const running = runningVersion(pod);
    const format = running && rdbFormat(running);
    if (!running || !format || format.rdb <= targetFormat.rdb) continue;
    return (
      `spec.image ${image} runs ${label(target)}, which cannot load the data of ${pod.name} (${label(running)}, ${pod.server.version}): ` +
      `a replica older than its parent fails its first sync (RDB format ${format.rdb} is newer than ${targetFormat.rdb}). ` +
      `No pod was touched. Set spec.image back to a ${label(running)} or newer image; moving data to an older server needs a new resource loaded from a backup`
    );
  }
  return undefined;
}

/** The image a pod created now is given: spec.image, unless rolling it is refused (a downgrade).
 * Then a replacement or a scale-up runs the image of the pod with the newest data format, which every
 * pod can sync from; a replica on the refused image would fail its first sync. */
export function imageForNewPods(image: string, pods: Pick<ObservedPod, 'name' | 'server' | 'image'>[]): string {
  if (!downgradeRefusal(image, pods)) return image;
  const format = (pod: Pick<ObservedPod, 'server'>): number => {
    const running = runningVersion(pod);
    return (running && rdbFormat(running)?.rdb) ?? -1;
  };
  const newest = pods.filter((p) => p.image && p.server).sort((a, b) => format(b) - format(a))[0];
  return newest?.image ?? image;
}
