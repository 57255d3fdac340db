import type { CoreV1Event, V1ObjectReference } from '@kubernetes/client-node';
import { isNotFound, mergePatchOptions } from './client.js';

/** The calls the recorder makes; CoreV1Api has them. */
interface EventApi {
  createNamespacedEvent(p: { namespace: string; body: CoreV1Event }): Promise<CoreV1Event>;
  patchNamespacedEvent(
    p: { name: string; namespace: string; body: object },
    options: ReturnType<typeof mergePatchOptions>,
  ): Promise<CoreV1Event>;
}

export interface InvolvedObject {
  apiVersion: string;
  kind: string;
  name: string;
  namespace: string;
  uid: string;
}

export type EventType = 'Normal' | 'Warning';

export interface EventRecorderOptions {
  api: EventApi;
  /** Reporting component, e.g. "redis-replication-operator". */
  component: string;
  /** Reporting instance (pod name). */
  instance: string;
  /** Repeats within this window update one Event's count. Default 10 min. */
  aggregateWindowMs?: number;
  onError?(error: unknown): void;
}

interface Series {
  name?: string;
  count: number;
  last: number;
  /** Writes of one series run one after another, so a repeat never races the create. */
  chain: Promise<void>;
}

const MAX_SERIES = 1024;

/** Records core/v1 Events on an object, counting repeats instead of creating new Events. */
export class EventRecorder {
  private readonly series = new Map<string, Series>();
  private readonly windowMs: number;

  constructor(private readonly o: EventRecorderOptions) {
    this.windowMs = o.aggregateWindowMs ?? 600_000;
  }

  /** Never rejects: failures go to onError (events are best effort). */
  record(obj: InvolvedObject, type: EventType, reason: string, message: string): Promise<void> {
    const note = message.slice(0, 1024);
    const key = JSON.stringify([obj.uid, type, reason, note]);
    this.prune();
    let s = this.series.get(key);
    if (!s) {
      s = { count: 0, last: 0, chain: Promise.resolve() };
      this.series.set(key, s);
    }
    const series = s;
    series.chain = series.chain
      .then(() => this.write(obj, type, reason, note, series))
      .catch((e: unknown) => this.o.onError?.(e));
    return series.chain;
  }

  private async write(obj: InvolvedObject, type: EventType, reason: string, note: string, s: Series): Promise<void> {
    const now = Date.now();
    if (s.name !== undefined && now - s.last < this.windowMs) {
      try {
        await this.o.api.patchNamespacedEvent(
          { name: s.name, namespace: obj.namespace, body: { count: s.count + 1, lastTimestamp: new Date(now) } },
          mergePatchOptions(),
        );
        s.count++;
        s.last = now;
        return;
      } catch (e) {
        if (!isNotFound(e)) throw e;
      }
    }
    const involvedObject: V1ObjectReference = {
      apiVersion: obj.apiVersion,
      kind: obj.kind,
      name: obj.name,
      namespace: obj.namespace,
      uid: obj.uid,
    };
    const name = `${obj.name}.${(BigInt(now) * 1_000_000n + BigInt(Math.floor(Math.random() * 1e6))).toString(16)}`;
    await this.o.api.createNamespacedEvent({
      namespace: obj.namespace,
      body: {
        metadata: { name, namespace: obj.namespace },
        involvedObject,
        type,
        reason,
        message: note,
        count: 1,
        firstTimestamp: new Date(now),
        lastTimestamp: new Date(now),
        source: { component: this.o.component },
        reportingComponent: this.o.component,
        reportingInstance: this.o.instance,
      },
    });
    s.name = name;
    s.count = 1;
    s.last = now;
  }

  private prune(): void {
    if (this.series.size < MAX_SERIES) return;
    const cutoff = Date.now() - this.windowMs;
    for (const [key, s] of this.series) if (s.last < cutoff) this.series.delete(key);
  }
}
