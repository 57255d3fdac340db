import {
  ListWatch,
  Watch,
  type Informer,
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
  type ListPromise,
  type ObjectCache,
} from '@kubernetes/client-node';
import { apiResource, countApiRequest } from './client.js';

export type InformerEventType = 'add' | 'update' | 'delete';

interface InformerTiming {
  /** First restart delay after an error; doubles per consecutive error. */
  backoffMinMs: number;
  backoffMaxMs: number;
  /** Asks the server to end each watch after this long (it then resumes from the last resourceVersion). */
  watchTimeoutSeconds: number;
  /** Relist when nothing (event, bookmark, list, new watch) has been seen for this long: a stalled connection. */
  stallMs: number;
  /** Relist this often regardless, to repair anything a watch may have missed. */
  relistMs: number;
}

const DEFAULT_TIMING: InformerTiming = {
  backoffMinMs: 1_000,
  backoffMaxMs: 30_000,
  watchTimeoutSeconds: 300,
  stallMs: 330_000,
  relistMs: 300_000,
};

/** The part of client-node's ListWatch this wrapper drives. */
export type InformerSource<T extends KubernetesObject> = Informer<T> & ObjectCache<T>;

interface SourceHandle<T extends KubernetesObject> {
  source: InformerSource<T>;
  /** Ends the current watch as if the server had answered 410 Gone, so the source relists. */
  relist(): void;
}

export interface SourceHooks<T extends KubernetesObject> {
  list: ListPromise<T>;
  /** To be called on every line the watch delivers (events and bookmarks alike). */
  onActivity(): void;
}

export type SourceFactory<T extends KubernetesObject> = (hooks: SourceHooks<T>) => SourceHandle<T>;

export interface InformerOptions<T extends KubernetesObject> {
  /** Watch path, e.g. /apis/group/v1/namespaces/ns/plural or /api/v1/pods. */
  path: string;
  list: () => Promise<KubernetesListObject<T>>;
  labelSelector?: string;
  fieldSelector?: string;
  /** Synchronous: only enqueue from here. */
  onEvent(type: InformerEventType, obj: T): void;
  onError?(error: unknown): void;
  /** Named functions from an object to index values, for byIndex(). */
  indexers?: Record<string, (obj: T) => string[]>;
  timing?: Partial<InformerTiming>;
}

export interface RobustInformer<T extends KubernetesObject> {
  list(namespace?: string): readonly T[];
  /** `namespace` undefined for a cluster-scoped object. */
  get(namespace: string | undefined, name: string): T | undefined;
  byIndex(indexName: string, value: string): T[];
  hasSynced(): boolean;
  stop(): Promise<void>;
}

/**
 * A Watch that asks for bookmarks and a server-side timeout, reports activity, and can be made
 * to end the current watch with 410 Gone (ListWatch then relists).
 */
class TappedWatch extends Watch {
  private endCurrent?: (err: unknown) => void;

  constructor(
    kc: KubeConfig,
    private readonly timeoutSeconds: number,
    private readonly onActivity: () => void,
  ) {
    super(kc);
  }

  override async watch(
    path: string,
    queryParams: Record<string, string | number | boolean | undefined>,
    callback: (phase: string, apiObj: unknown, watchObj?: unknown) => void,
    done: (err: unknown) => void,
  ): Promise<AbortController> {
    countApiRequest('watch', apiResource(path));
    let ended = false;
    const end = (err: unknown): void => {
      if (ended) return;
      ended = true;
      done(err);
    };
    this.endCurrent = end;
    const controller = await super.watch(
      path,
      { ...queryParams, allowWatchBookmarks: true, timeoutSeconds: this.timeoutSeconds },
      (phase, obj, raw) => {
        if (ended) return;
        this.onActivity();
        callback(phase, obj, raw);
      },
      end,
    );
    // Ended while connecting: nobody else will abort this connection.
    if (ended) controller.abort();
    else this.onActivity();
    return controller;
  }

  relist(): void {
    this.endCurrent?.({ statusCode: 410 });
  }
}

function listWatchFactory<T extends KubernetesObject>(
  kc: KubeConfig,
  path: string,
  selectors: { labelSelector?: string | undefined; fieldSelector?: string | undefined },
  watchTimeoutSeconds: number,
): SourceFactory<T> {
  return ({ list, onActivity }) => {
    const watch = new TappedWatch(kc, watchTimeoutSeconds, onActivity);
    return { source: new ListWatch<T>(path, watch, list, false, selectors.labelSelector, selectors.fieldSelector), relist: () => watch.relist() };
  };
}

/**
 * client-node's ListWatch made robust: restarts after errors with exponential backoff, relists a
 * stalled watch and relists periodically. Starts at once; hasSynced() tells when the first list
 * has arrived.
 */
export function startInformer<T extends KubernetesObject>(
  kc: KubeConfig,
  options: InformerOptions<T>,
  factory?: SourceFactory<T>,
): RobustInformer<T> {
  const timing = { ...DEFAULT_TIMING, ...options.timing };
  const makeSource =
    factory ?? listWatchFactory<T>(kc, options.path, options, timing.watchTimeoutSeconds);
  const onError = options.onError ?? (() => {});

  let synced = false;
  let stopped = false;
  let failures = 0;
  let restartTimer: NodeJS.Timeout | undefined;
  let lastActivity = Date.now();

  const activity = (): void => {
    lastActivity = Date.now();
    failures = 0;
  };

  const { source, relist } = makeSource({
    list: async () => {
      const result = await options.list();
      synced = true;
      activity();
      return result;
    },
    onActivity: activity,
  });

  const start = (): void => {
    lastActivity = Date.now();
    source.start().catch(fail);
  };

  function fail(error: unknown): void {
    onError(error);
    if (stopped || restartTimer) return;
    const delay = Math.min(timing.backoffMaxMs, timing.backoffMinMs * 2 ** failures);
    failures++;
    restartTimer = setTimeout(() => {
      restartTimer = undefined;
      if (!stopped) start();
    }, delay);
  }

  const relistIfRunning = (problem?: string): void => {
    if (stopped || restartTimer) return;
    if (problem) onError(new Error(problem));
    lastActivity = Date.now();
    relist();
  };

  // Indexes are built on first use and dropped on every change of the cache (relists included, as
  // they come as events too): a resource's lookups cost a map access, not a scan of every object.
  const indexes = new Map<string, Map<string, T[]>>();
  for (const type of ['add', 'update', 'delete'] as const) {
    source.on(type, (obj: T) => {
      indexes.clear();
      options.onEvent(type, obj);
    });
  }
  source.on('error', fail);

  const watchdog = setInterval(
    () => {
      if (Date.now() - lastActivity > timing.stallMs) {
        relistIfRunning(`watch of ${options.path} stalled: nothing for ${timing.stallMs} ms; relisting`);
      }
    },
    Math.max(1, Math.floor(timing.stallMs / 4)),
  );
  const periodic = setInterval(() => relistIfRunning(), timing.relistMs);

  start();

  return {
    list: (namespace) => source.list(namespace),
    get: (namespace, name) => source.get(name, namespace),
    byIndex(indexName, value) {
      let index = indexes.get(indexName);
      if (!index) {
        const indexer = options.indexers?.[indexName];
        if (!indexer) throw new Error(`informer of ${options.path} has no index ${indexName}`);
        index = new Map();
        for (const obj of source.list()) {
          for (const v of indexer(obj)) {
            const objs = index.get(v);
            if (objs) objs.push(obj);
            else index.set(v, [obj]);
          }
        }
        indexes.set(indexName, index);
      }
      return [...(index.get(value) ?? [])];
    },
    hasSynced: () => synced,
    async stop() {
      stopped = true;
      clearTimeout(restartTimer);
      clearInterval(watchdog);
      clearInterval(periodic);
      await source.stop();
    },
  };
}
