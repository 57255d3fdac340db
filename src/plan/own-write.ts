// Whether the informer cache has seen this process's own last write to a resource. A pass that
// reads the resource from before that write acts on a view its own last pass already changed, and
// its first conditional write gets 409 Conflict: at 500 resources on the bench's 2-core machine, a
// quarter of the ramp's passes did, each a full pass of INFO reads thrown away and retried with
// back-off. Such a pass waits a moment for the cache instead; bounded, so that a cache that never
// catches up gets the passes (and the conflicts) it got before.

export interface OwnWrite {
  /** The resourceVersion the write replaced: a cache that still shows it has not seen the write.
   * (A pass that wrote twice leaves a version between the two; a cache on that one is not caught:
   * it gets a conflict, as before.) */
  replaced: string;
  atMs: number;
}

/** How soon a pass that found the cache behind looks again. */
export const OWN_WRITE_RECHECK_MS = 100;
/** How long the cache is waited for, at most. */
const OWN_WRITE_WAIT_MS = 5_000;

export function cacheBehind(own: OwnWrite | undefined, cachedVersion: string | undefined, nowMs: number): boolean {
  return own !== undefined && cachedVersion === own.replaced && nowMs - own.atMs < OWN_WRITE_WAIT_MS;
}

/** What a pass that read version `read` and left version `written` tells the next one. */
export function ownWriteAfter(read: string | undefined, written: string | undefined, nowMs: number): OwnWrite | undefined {
  return read !== undefined && written !== undefined && written !== read ? { replaced: read, atMs: nowMs } : undefined;
}
