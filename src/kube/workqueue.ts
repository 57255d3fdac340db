/** A rate-limited work queue with client-go's semantics; keys are "namespace/name". Urgent keys (a
 * resource whose primary is lost) have a lane of their own, served before routine work. */

export interface RateLimiter {
  /** Delay before the key may be retried; counts a failure. */
  when(key: string): number;
  forget(key: string): void;
  numRequeues(key: string): number;
}

export type Clock = () => number;

/** Per-key exponential backoff: base · 2^failures, capped at max. */
export class ExponentialFailureRateLimiter implements RateLimiter {
  private readonly failures = new Map<string, number>();
  constructor(
    private readonly baseMs = 5,
    private readonly maxMs = 1_000_000,
  ) {}

  when(key: string): number {
    const n = this.failures.get(key) ?? 0;
    this.failures.set(key, n + 1);
    return Math.min(this.baseMs * 2 ** n, this.maxMs);
  }

  forget(key: string): void {
    this.failures.delete(key);
  }

  numRequeues(key: string): number {
    return this.failures.get(key) ?? 0;
  }
}

/** Overall token bucket: each retry reserves a token and waits until it is due. */
export class TokenBucketRateLimiter implements RateLimiter {
  private tokens: number;
  private last: number;
  constructor(
    private readonly qps = 10,
    private readonly burst = 100,
    private readonly now: Clock = Date.now,
  ) {
    this.tokens = burst;
    this.last = now();
  }

  when(): number {
    const t = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((t - this.last) / 1000) * this.qps);
    this.last = t;
    this.tokens -= 1;
    return this.tokens >= 0 ? 0 : (-this.tokens / this.qps) * 1000;
  }

  forget(): void {}

  numRequeues(): number {
    return 0;
  }
}

/** The longest delay of several limiters (client-go's MaxOfRateLimiter). */
class MaxOfRateLimiter implements RateLimiter {
  private readonly limiters: RateLimiter[];
  constructor(...limiters: RateLimiter[]) {
    this.limiters = limiters;
  }

  when(key: string): number {
    return Math.max(0, ...this.limiters.map((l) => l.when(key)));
  }

  forget(key: string): void {
    for (const l of this.limiters) l.forget(key);
  }

  numRequeues(key: string): number {
    return Math.max(0, ...this.limiters.map((l) => l.numRequeues(key)));
  }
}

/** controller-runtime's default: per-key 5 ms .. 1000 s, overall 10 qps with a burst of 100. */
export function defaultRateLimiter(now: Clock = Date.now, maxDelayMs = 1_000_000): RateLimiter {
  return new MaxOfRateLimiter(new ExponentialFailureRateLimiter(5, maxDelayMs), new TokenBucketRateLimiter(10, 100, now));
}

export interface WorkQueueOptions {
  rateLimiter?: RateLimiter;
  now?: Clock;
  /** Called on every get() with the time the key waited in the queue. */
  onLatency?: (ms: number) => void;
}

export class WorkQueue {
  private readonly queue: string[] = [];
  /** The urgent lane: taken before `queue`. */
  private readonly urgentQueue: string[] = [];
  /** Keys waiting to be processed (queued, or re-added while processing). */
  private readonly dirty = new Set<string>();
  /** Dirty keys that go to the urgent lane (queued there, or once their processing is done). */
  private readonly urgent = new Set<string>();
  private readonly processing = new Set<string>();
  private readonly addedAt = new Map<string, number>();
  private readonly delayed = new Map<string, { at: number; timer: NodeJS.Timeout }>();
  private readonly waiters: ((key: string | undefined) => void)[] = [];
  /** Callers of getUrgent() waiting: they take urgent keys only. */
  private readonly urgentWaiters: ((key: string | undefined) => void)[] = [];
  private readonly drained: (() => void)[] = [];
  private shuttingDown = false;
  private readonly rateLimiter: RateLimiter;
  private readonly now: Clock;
  private readonly onLatency: (ms: number) => void;

  constructor(options: WorkQueueOptions = {}) {
    this.now = options.now ?? Date.now;
    this.rateLimiter = options.rateLimiter ?? defaultRateLimiter(this.now);
    this.onLatency = options.onLatency ?? (() => {});
  }

  add(key: string): void {
    if (this.shuttingDown || this.dirty.has(key)) return;
    this.dirty.add(key);
    this.addedAt.set(key, this.now());
    // A key being processed goes back in the queue when done() is called.
    if (!this.processing.has(key)) this.enqueue(key);
  }

  /**
   * As add(), in the urgent lane: the key is handed out before every routine key. A key already
   * waiting in the routine lane moves up; a key being processed is queued urgently once done (never
   * twice at once, as for add()).
   */
  addUrgent(key: string): void {
    if (this.shuttingDown || this.urgent.has(key)) return;
    this.urgent.add(key);
    if (!this.dirty.has(key)) {
      this.add(key);
      return;
    }
    const at = this.processing.has(key) ? -1 : this.queue.indexOf(key);
    if (at < 0) return;
    this.queue.splice(at, 1);
    this.enqueue(key);
  }

  addAfter(key: string, ms: number): void {
    if (this.shuttingDown) return;
    if (ms <= 0) {
      this.add(key);
      return;
    }
    const at = this.now() + ms;
    const pending = this.delayed.get(key);
    if (pending && pending.at <= at) return;
    if (pending) clearTimeout(pending.timer);
    const timer = setTimeout(() => {
      this.delayed.delete(key);
      this.add(key);
    }, ms);
    this.delayed.set(key, { at, timer });
  }

  addRateLimited(key: string): void {
    this.addAfter(key, this.rateLimiter.when(key));
  }

  forget(key: string): void {
    this.rateLimiter.forget(key);
  }

  numRequeues(key: string): number {
    return this.rateLimiter.numRequeues(key);
  }

  /** Nothing is due for the key: not queued, not in process, and its last pass did not fail. */
  idle(key: string): boolean {
    return !this.dirty.has(key) && !this.processing.has(key) && this.rateLimiter.numRequeues(key) === 0;
  }

  /** The next key to process, or undefined once the queue is shut down. Call done(key) afterwards. */
  get(): Promise<string | undefined> {
    const key = this.urgentQueue.shift() ?? this.queue.shift();
    if (key !== undefined) return Promise.resolve(this.take(key));
    if (this.shuttingDown) return Promise.resolve(undefined);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** As get(), for urgent keys only: what a worker kept for lost primaries waits on. */
  getUrgent(): Promise<string | undefined> {
    const key = this.urgentQueue.shift();
    if (key !== undefined) return Promise.resolve(this.take(key));
    if (this.shuttingDown) return Promise.resolve(undefined);
    return new Promise((resolve) => this.urgentWaiters.push(resolve));
  }

  done(key: string): void {
    this.processing.delete(key);
    if (this.dirty.has(key)) this.enqueue(key);
    if (this.shuttingDown && this.processing.size === 0) this.drained.splice(0).forEach((d) => d());
  }

  /** Keys ready to be processed. */
  len(): number {
    return this.urgentQueue.length + this.queue.length;
  }

  /**
   * Stops handing out keys and drops the pending ones (reconciliation is level-triggered, so
   * whoever runs next starts from the cluster's state). Resolves when the keys in process are done.
   */
  shutDown(): Promise<void> {
    this.shuttingDown = true;
    for (const { timer } of this.delayed.values()) clearTimeout(timer);
    this.delayed.clear();
    this.queue.length = 0;
    this.urgentQueue.length = 0;
    this.urgent.clear();
    for (const key of this.dirty) if (!this.processing.has(key)) this.dirty.delete(key);
    [...this.waiters.splice(0), ...this.urgentWaiters.splice(0)].forEach((w) => w(undefined));
    if (this.processing.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.drained.push(resolve));
  }

  private enqueue(key: string): void {
    if (this.shuttingDown) return;
    const urgent = this.urgent.has(key);
    const waiter = (urgent ? this.urgentWaiters.shift() : undefined) ?? this.waiters.shift();
    if (waiter) waiter(this.take(key));
    else (urgent ? this.urgentQueue : this.queue).push(key);
  }

  private take(key: string): string {
    this.processing.add(key);
    this.dirty.delete(key);
    this.urgent.delete(key);
    this.onLatency(this.now() - (this.addedAt.get(key) ?? this.now()));
    this.addedAt.delete(key);
    return key;
  }
}

/** What a reconcile returns (controller-runtime's Result): when to look at the key again. */
export type Requeue = { requeueAfterMs?: number } | void;
export type Reconciler = (key: string) => Promise<Requeue>;

/** Processes one key with controller-runtime's result handling. */
async function processKey(
  queue: WorkQueue,
  key: string,
  reconcile: Reconciler,
  onError: (key: string, error: unknown) => void,
): Promise<void> {
  try {
    const result = await reconcile(key);
    queue.forget(key);
    const after = result?.requeueAfterMs;
    if (after !== undefined && after > 0) queue.addAfter(key, after);
  } catch (error) {
    queue.addRateLimited(key);
    onError(key, error);
  } finally {
    queue.done(key);
  }
}

/**
 * Runs `n` workers until the queue shuts down, and one more kept for urgent keys (a lost primary
 * does not wait for a worker to finish a routine pass: during a ramp those take seconds); resolves
 * when all have stopped.
 */
export async function runWorkers(
  queue: WorkQueue,
  n: number,
  reconcile: Reconciler,
  onError: (key: string, error: unknown) => void,
): Promise<void> {
  const worker = async (next: () => Promise<string | undefined>): Promise<void> => {
    for (let key = await next(); key !== undefined; key = await next()) {
      await processKey(queue, key, reconcile, onError);
    }
  };
  await Promise.all([...Array.from({ length: n }, () => worker(() => queue.get())), worker(() => queue.getUrgent())]);
}
