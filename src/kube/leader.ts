import { V1MicroTime, type V1Lease, type V1LeaseSpec } from '@kubernetes/client-node';
import { isConflict, isNotFound } from './client.js';

/** The calls leader election makes; CoordinationV1Api has them. */
export interface LeaseApi {
  readNamespacedLease(p: { name: string; namespace: string }): Promise<V1Lease>;
  createNamespacedLease(p: { namespace: string; body: V1Lease }): Promise<V1Lease>;
  replaceNamespacedLease(p: { name: string; namespace: string; body: V1Lease }): Promise<V1Lease>;
}

export interface LeaderElectionOptions {
  api: LeaseApi;
  name: string;
  namespace: string;
  identity: string;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  onStartedLeading(): void;
  onStoppedLeading(): void;
  onError?(error: unknown): void;
}

/**
 * Leader election on a coordination.k8s.io/v1 Lease, as client-go does it: a lease is taken when
 * free or when its record has not changed for a lease duration by our own clock (so clock skew
 * between holders does not matter), renewed every retry period, and given up when no renewal
 * succeeded within the renew deadline.
 */
export class LeaderElector {
  private readonly leaseDurationMs: number;
  private readonly renewDeadlineMs: number;
  private readonly retryPeriodMs: number;
  private leading = false;
  private stopped = false;
  private lastRenew = 0;
  private observed?: { key: string; at: number };
  private wake?: () => void;
  private loop?: Promise<void>;

  constructor(private readonly o: LeaderElectionOptions) {
    this.leaseDurationMs = o.leaseDurationMs ?? 15_000;
    this.renewDeadlineMs = o.renewDeadlineMs ?? 10_000;
    this.retryPeriodMs = o.retryPeriodMs ?? 2_000;
  }

  isLeader(): boolean {
    return this.leading;
  }

  /** Starts campaigning in the background. */
  start(): void {
    this.loop ??= this.run();
  }

  /** Stops campaigning and, when leading, clears the holder so a successor takes over at once. */
  async release(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await this.loop;
    this.setLeading(false);
    // Also when a last attempt took the lease as we stopped.
    try {
      const lease = await this.o.api.readNamespacedLease({ name: this.o.name, namespace: this.o.namespace });
      if (lease.spec?.holderIdentity !== this.o.identity) return;
      const now = new V1MicroTime(Date.now());
      await this.replace(lease, { ...lease.spec, holderIdentity: undefined, leaseDurationSeconds: 1, acquireTime: now, renewTime: now });
    } catch (e) {
      this.o.onError?.(e);
    }
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      const result = await this.attempt();
      if (this.stopped) break;
      if (result === 'held') {
        this.lastRenew = Date.now();
        this.setLeading(true);
      } else if (this.leading && (result === 'lost' || Date.now() - this.lastRenew >= this.renewDeadlineMs)) {
        this.setLeading(false);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, this.retryPeriodMs);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  /** One try, bounded by what is left of the renew deadline while leading. */
  private async attempt(): Promise<'held' | 'lost' | 'failed'> {
    const attempt = this.tryAcquireOrRenew().catch((e: unknown) => {
      this.o.onError?.(e);
      return 'failed' as const;
    });
    if (!this.leading) return attempt;
    const left = Math.max(0, this.lastRenew + this.renewDeadlineMs - Date.now());
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<'failed'>((resolve) => (timer = setTimeout(() => resolve('failed'), left)));
    try {
      return await Promise.race([attempt, deadline]);
    } finally {
      clearTimeout(timer);
    }
  }

  private async tryAcquireOrRenew(): Promise<'held' | 'lost' | 'failed'> {
    const { name, namespace, identity } = this.o;
    const now = Date.now();
    const spec = (acquireTime: Date, transitions: number): V1LeaseSpec => ({
      holderIdentity: identity,
      leaseDurationSeconds: Math.ceil(this.leaseDurationMs / 1000),
      acquireTime: new V1MicroTime(acquireTime.getTime()),
      renewTime: new V1MicroTime(now),
      leaseTransitions: transitions,
    });

    let lease: V1Lease;
    try {
      lease = await this.o.api.readNamespacedLease({ name, namespace });
    } catch (e) {
      if (!isNotFound(e)) throw e;
      return this.write(() =>
        this.o.api.createNamespacedLease({ namespace, body: { metadata: { name, namespace }, spec: spec(new Date(now), 0) } }),
      );
    }

    const current = lease.spec ?? {};
    const holder = current.holderIdentity ?? '';
    const key = JSON.stringify([holder, current.renewTime, current.leaseTransitions]);
    if (this.observed?.key !== key) this.observed = { key, at: now };
    const durationMs = (current.leaseDurationSeconds ?? 0) * 1000;
    const expired = this.observed.at + durationMs <= now;
    if (holder !== '' && holder !== identity && !expired) return 'lost';

    const mine = holder === identity;
    const transitions = (current.leaseTransitions ?? 0) + (mine ? 0 : 1);
    const acquired = mine && current.acquireTime ? new Date(current.acquireTime) : new Date(now);
    return this.write(() => this.replace(lease, spec(acquired, transitions)));
  }

  private replace(lease: V1Lease, spec: V1LeaseSpec): Promise<V1Lease> {
    const { name, namespace } = this.o;
    // resourceVersion makes this a compare-and-swap: 409 means someone else wrote first.
    return this.o.api.replaceNamespacedLease({ name, namespace, body: { ...lease, spec } });
  }

  private async write(call: () => Promise<V1Lease>): Promise<'held' | 'lost'> {
    try {
      const written = await call();
      this.observed = {
        key: JSON.stringify([this.o.identity, written.spec?.renewTime, written.spec?.leaseTransitions]),
        at: Date.now(),
      };
      return 'held';
    } catch (e) {
      if (isConflict(e)) return 'lost';
      throw e;
    }
  }

  private setLeading(leading: boolean): void {
    if (this.leading === leading) return;
    this.leading = leading;
    if (leading) this.o.onStartedLeading();
    else this.o.onStoppedLeading();
  }
}
