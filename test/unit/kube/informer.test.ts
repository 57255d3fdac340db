import { KubeConfig, type KubernetesListObject, type KubernetesObject } from '@kubernetes/client-node';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { startInformer, type InformerSource, type SourceHooks } from '../../../src/kube/informer.js';

type Obj = KubernetesObject & { metadata: { name: string; namespace: string; labels?: Record<string, string> } };
// Stores both object and error callbacks; emit() hands each the argument its verb carries.
type Callback = (arg: never) => void;

const obj = (namespace: string, name: string, owner = ''): Obj => ({
  metadata: { namespace, name, labels: { owner } },
});

/** A stand-in for ListWatch: start() lists through the hooks, or fails while `failing` is set. */
class FakeSource implements InformerSource<Obj> {
  callbacks = new Map<string, Callback[]>();
  items: Obj[] = [];
  starts = 0;
  relists = 0;
  failing = false;
  constructor(readonly hooks: SourceHooks<Obj>) {}

  on(verb: string, cb: Callback): void {
    this.callbacks.set(verb, [...(this.callbacks.get(verb) ?? []), cb]);
  }
  off(): void {}
  emit(verb: string, arg?: unknown): void {
    for (const cb of this.callbacks.get(verb) ?? []) (cb as (a: unknown) => void)(arg);
  }
  async start(): Promise<void> {
    this.starts++;
    if (this.failing) {
      this.emit('error', new Error('connection refused'));
      return;
    }
    const list = await this.hooks.list();
    this.items = list.items;
    for (const item of list.items) this.emit('add', item);
  }
  async stop(): Promise<void> {}
  get(name: string, namespace?: string): Obj | undefined {
    return this.items.find((o) => o.metadata.name === name && o.metadata.namespace === namespace);
  }
  list(namespace?: string): readonly Obj[] {
    return this.items.filter((o) => namespace === undefined || o.metadata.namespace === namespace);
  }
}

function setup(items: Obj[] = [obj('a', 'x', 'o1'), obj('b', 'y', 'o1')]) {
  let fake!: FakeSource;
  const events: string[] = [];
  const errors: unknown[] = [];
  const list = vi.fn(async (): Promise<KubernetesListObject<Obj>> => ({ items, metadata: { resourceVersion: '1' } }));
  const informer = startInformer<Obj>(
    new KubeConfig(),
    {
      path: '/apis/x/v1/things',
      list,
      onEvent: (type, o) => events.push(`${type} ${o.metadata.namespace}/${o.metadata.name}`),
      onError: (e) => errors.push(e),
      indexers: { owner: (o) => [o.metadata.labels?.owner ?? ''] },
      timing: { backoffMinMs: 1000, backoffMaxMs: 30_000, stallMs: 60_000, relistMs: 300_000 },
    },
    (hooks) => {
      fake = new FakeSource(hooks);
      return { source: fake, relist: () => fake.relists++ };
    },
  );
  return { informer, fake: () => fake, events, errors, list };
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('startInformer', () => {
  it('syncs, forwards events and serves lookups from the cache', async () => {
    const { informer, events } = setup();
    expect(informer.hasSynced()).toBe(false);
    await vi.advanceTimersByTimeAsync(0);
    expect(informer.hasSynced()).toBe(true);
    expect(events).toEqual(['add a/x', 'add b/y']);
    expect(informer.get('a', 'x')?.metadata.name).toBe('x');
    expect(informer.get('b', 'x')).toBeUndefined();
    expect(informer.list('b')).toHaveLength(1);
    expect(informer.byIndex('owner', 'o1')).toHaveLength(2);
    expect(() => informer.byIndex('nope', 'v')).toThrow(/no index nope/);
    await informer.stop();
  });

  it('keeps its indexes current through adds, updates and deletes', async () => {
    const { informer, fake } = setup();
    await vi.advanceTimersByTimeAsync(0);
    expect(informer.byIndex('owner', 'o1').map((o) => o.metadata.name)).toEqual(['x', 'y']);
    const source = fake();
    const moved = obj('b', 'y', 'o2');
    source.items = [source.items[0]!, moved];
    source.emit('update', moved);
    expect(informer.byIndex('owner', 'o1').map((o) => o.metadata.name)).toEqual(['x']);
    expect(informer.byIndex('owner', 'o2').map((o) => o.metadata.name)).toEqual(['y']);
    const added = obj('a', 'z', 'o1');
    source.items = [...source.items, added];
    source.emit('add', added);
    expect(informer.byIndex('owner', 'o1').map((o) => o.metadata.name)).toEqual(['x', 'z']);
    source.items = source.items.filter((o) => o.metadata.name !== 'x');
    source.emit('delete', obj('a', 'x', 'o1'));
    expect(informer.byIndex('owner', 'o1').map((o) => o.metadata.name)).toEqual(['z']);
    // A caller may change the array it got without touching the index.
    informer.byIndex('owner', 'o1').pop();
    expect(informer.byIndex('owner', 'o1')).toHaveLength(1);
    await informer.stop();
  });

  it('restarts after errors with exponential backoff capped at the maximum, and resets it on success', async () => {
    const { informer, fake, errors } = setup();
    await vi.advanceTimersByTimeAsync(0);
    const source = fake();
    source.failing = true;
    source.emit('error', new Error('watch broke'));
    const startsAt = (ms: number) => vi.advanceTimersByTimeAsync(ms).then(() => source.starts);
    expect(await startsAt(999)).toBe(1);
    expect(await startsAt(1)).toBe(2); // 1 s
    expect(await startsAt(2000)).toBe(3); // 2 s
    expect(await startsAt(4000)).toBe(4); // 4 s
    await vi.advanceTimersByTimeAsync(8000 + 16_000); // 8 s, 16 s
    expect(source.starts).toBe(6);
    expect(await startsAt(29_999)).toBe(6);
    expect(await startsAt(1)).toBe(7); // capped at 30 s
    expect(errors.length).toBeGreaterThanOrEqual(7);

    source.failing = false;
    expect(await startsAt(30_000)).toBe(8); // recovered: list succeeded
    source.failing = true;
    source.emit('error', new Error('again'));
    expect(await startsAt(1000)).toBe(9); // back to 1 s
    await informer.stop();
  });

  it('relists a watch that has been silent for the stall timeout', async () => {
    const { informer, fake, errors } = setup();
    await vi.advanceTimersByTimeAsync(0);
    await vi.advanceTimersByTimeAsync(45_000);
    fake().hooks.onActivity(); // a bookmark or event keeps it alive
    await vi.advanceTimersByTimeAsync(45_000);
    expect(fake().relists).toBe(0);
    await vi.advanceTimersByTimeAsync(30_000);
    expect(fake().relists).toBe(1);
    expect(String(errors.at(-1))).toMatch(/stalled/);
    await informer.stop();
  });

  it('relists periodically and not while waiting to restart', async () => {
    const { informer, fake } = setup();
    await vi.advanceTimersByTimeAsync(0);
    const keepAlive = setInterval(() => fake().hooks.onActivity(), 10_000);
    await vi.advanceTimersByTimeAsync(300_000);
    expect(fake().relists).toBe(1);
    fake().failing = true;
    fake().emit('error', new Error('down'));
    await vi.advanceTimersByTimeAsync(300_000);
    expect(fake().relists).toBe(1);
    clearInterval(keepAlive);
    await informer.stop();
  });

  it('stops restarting once stopped', async () => {
    const { informer, fake } = setup();
    await vi.advanceTimersByTimeAsync(0);
    fake().failing = true;
    fake().emit('error', new Error('down'));
    await informer.stop();
    await vi.advanceTimersByTimeAsync(600_000);
    expect(fake().starts).toBe(1);
    expect(fake().relists).toBe(0);
  });
});

describe('startInformer against an HTTP server', () => {
  it('asks for bookmarks and a server timeout, and relists a silent watch', async () => {
    vi.useRealTimers();
    const { createServer } = await import('node:http');
    const watchUrls: string[] = [];
    let closedWatches = 0;
    const server = createServer((req, res) => {
      watchUrls.push(req.url ?? '');
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write(`${JSON.stringify({ type: 'ADDED', object: { metadata: { namespace: 'a', name: 'w', resourceVersion: '2' } } })}\n`);
      req.on('close', () => closedWatches++);
      // then silence: a stalled watch
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'c', server: `http://127.0.0.1:${port}`, skipTLSVerify: true }],
      users: [{ name: 'u' }],
      contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
      currentContext: 'x',
    });
    let lists = 0;
    const events: string[] = [];
    const informer = startInformer<Obj>(kc, {
      path: '/api/v1/things',
      list: async () => {
        lists++;
        return { items: [obj('a', 'x')], metadata: { resourceVersion: '1' } };
      },
      onEvent: (type, o) => events.push(`${type} ${o.metadata.name}`),
      timing: { stallMs: 200, watchTimeoutSeconds: 7 },
    });
    await vi.waitFor(() => expect(lists).toBe(2), { timeout: 3000 });
    await vi.waitFor(() => expect(watchUrls).toHaveLength(2), { timeout: 3000 });
    await vi.waitFor(() => expect(closedWatches).toBeGreaterThanOrEqual(1), { timeout: 3000 });
    const first = new URL(watchUrls[0]!, 'http://x');
    expect(first.searchParams.get('watch')).toBe('true');
    expect(first.searchParams.get('allowWatchBookmarks')).toBe('true');
    expect(first.searchParams.get('timeoutSeconds')).toBe('7');
    expect(first.searchParams.get('resourceVersion')).toBe('1');
    expect(events.slice(0, 2)).toEqual(['add x', 'add w']);
    // The relist did not see w: it is reported deleted.
    expect(events).toContain('delete w');
    await informer.stop();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });
});
