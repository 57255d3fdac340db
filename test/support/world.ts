// A fake cluster with a fake clock, wired into the operator's real Deps: reconcile runs exactly as
// in production, against in-memory API objects and the Redis model.
import { pino } from 'pino';
import type { RedisReplication } from '../../src/api/schema.js';
import type { Deps } from '../../src/controller/pass.js';
import { reconcile } from '../../src/controller/reconcile.js';
import { passwordCache } from '../../src/controller/secrets.js';
import { LABEL } from '../../src/plan/names.js';
import { OperatorMetrics } from '../../src/metrics/metrics.js';
import { FakeKube } from './fake-kube.js';
import { FakeRdbServer } from './fake-rdb-server.js';
import { FakeObjectStore } from './fake-object-store.js';
import { FakeArchives } from './fake-archives.js';
import { RedisModel, type RedisServer } from './redis-model.js';

/** The namespace the fake operator runs in. */
export const OPERATOR_NAMESPACE = 'rro-system';

export class World {
  nowMs = Date.UTC(2026, 11, 1);
  readonly redis = new RedisModel(() => this.nowMs);
  readonly kube = new FakeKube(this.redis, () => this.nowMs);
  /** Where a restore's pod gets its backup: the writes 1..3 unless a test sets others. */
  readonly rdbServer = new FakeRdbServer(this.redis, [1, 2, 3]);
  readonly objectStore = new FakeObjectStore();
  readonly archives = new FakeArchives();
  deps: Deps;

  constructor() {
    this.deps = this.freshDeps();
  }

  /** A new operator process: same cluster, no memory (as after a crash or restart). */
  freshDeps(): Deps {
    return {
      kube: this.kube,
      redis: this.redis,
      events: this.kube.recorder,
      metrics: new OperatorMetrics({ defaultMetrics: false }),
      cache: this.kube.cache,
      // RRO_TEST_LOG=info shows the operator's own log lines (decisions, failovers) on stderr.
      log: pino({ level: process.env['RRO_TEST_LOG'] ?? 'silent' }, pino.destination(2)),
      now: () => this.nowMs,
      sleep: async (ms) => {
        this.advance(ms);
        this.redis.replicate();
      },
      healthIntervalMs: 1000,
      memory: new Map(),
      passwords: passwordCache(this.kube, () => this.nowMs),
      operatorNamespace: OPERATOR_NAMESPACE,
      rdbServer: this.rdbServer,
      // No prober in the fake world: passes find silences themselves.
      silentSince: () => undefined,
      backupFiles: (store, credentials) => this.objectStore.client(store, credentials),
      archives: this.archives,
      recoveryStore: (store, credentials) => this.objectStore.recovery(store, credentials),
    };
  }

  restartOperator(): void {
    this.deps = this.freshDeps();
  }

  reconcile(rr: Pick<RedisReplication, 'metadata'>): ReturnType<typeof reconcile> {
    return reconcile(this.deps, `${rr.metadata.namespace}/${rr.metadata.name}`);
  }

  advance(ms: number): void {
    this.nowMs += ms;
  }

  /** A resource `cache` in namespace `ns` with this spec. */
  static withResource(spec: Record<string, unknown>): { world: World; rr: RedisReplication } {
    const world = new World();
    const rr = world.kube.apply({
      apiVersion: 'redis.replication.dev/v1alpha1',
      kind: 'RedisReplication',
      metadata: { name: 'cache', namespace: 'ns' },
      spec: spec as RedisReplication['spec'],
    });
    return { world, rr };
  }

  /** `n` passes of reconcile, each followed by a replication step and `ms` of time. */
  async passes(rr: Pick<RedisReplication, 'metadata'>, n: number, ms = 1000): Promise<void> {
    for (let i = 0; i < n; i++) {
      await this.reconcile(rr);
      this.redis.replicate();
      this.advance(ms);
    }
  }

  /** Passes of reconcile, each followed by a replication step and `ms` of time, until `done`. */
  async settle(rr: Pick<RedisReplication, 'metadata'>, done: () => boolean, maxPasses = 30, ms = 1000): Promise<number> {
    for (let n = 1; n <= maxPasses; n++) {
      await this.reconcile(rr);
      this.redis.replicate();
      this.advance(ms);
      if (done()) return n;
    }
    throw new Error(`not settled after ${maxPasses} passes: ${JSON.stringify(this.kube.resource(rr.metadata.namespace, rr.metadata.name).status, null, 1)}`);
  }

  /** A Secret of namespace `ns` that allows resource `cache` to use it (the label the operator asks
   * for, plan/secrets.ts), created or with new data. */
  allowedSecret(name: string, stringData: Record<string, string>): void {
    this.kube.setSecret('ns', name, stringData, { [LABEL.allow]: 'cache' });
  }

  /** The decoded keys of a Secret of namespace `ns`. */
  secretData(name: string): Record<string, string> {
    return Object.fromEntries(Object.entries(this.kube.secrets.get(`ns/${name}`)?.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]));
  }

  /** The Redis server of every pod. */
  servers(): RedisServer[] {
    return [...this.kube.pods.values()].map((p) => this.redis.servers.get(p.status!.podIP!)!);
  }

  status(rr: Pick<RedisReplication, 'metadata'>) {
    return this.kube.resource(rr.metadata.namespace, rr.metadata.name).status;
  }

  ready(rr: Pick<RedisReplication, 'metadata'>): boolean {
    return this.status(rr)?.phase === 'Ready';
  }
}
