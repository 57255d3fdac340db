// What the reconciler needs from the outside world, gathered in one place so the controller wires
// it once and the phases receive it as a single argument.
import type { CoreV1Api, CustomObjectsApi, V1PersistentVolumeClaim, V1Pod, V1Service } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { RedisReplication } from '../api/schema.js';
import type { OperatorMetrics } from '../metrics/metrics.js';
import type { RedisPool } from '../redis/client.js';

export interface Caches {
  resource(namespace: string, name: string): RedisReplication | undefined;
  pods(namespace: string, instance: string): V1Pod[];
  claims(namespace: string, instance: string): V1PersistentVolumeClaim[];
  services(namespace: string, instance: string): V1Service[];
}

export interface Recorder {
  record(rr: RedisReplication, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void>;
}

export interface Deps {
  core: CoreV1Api;
  custom: CustomObjectsApi;
  redis: RedisPool;
  events: Recorder;
  metrics: OperatorMetrics;
  cache: Caches;
  log: Logger;
  now(): number;
  /** How often a healthy resource is looked at again (Redis health is polled, not watched). */
  healthIntervalMs: number;
  /** Memory of one operator process: lost on restart, so nothing here may be needed for safety. */
  memory: Map<string, ResourceMemory>;
  /** Secret values, read through the API and cached briefly. */
  passwords: PasswordCache;
}

export interface ResourceMemory {
  unreachableSinceMs?: number;
  lastStatusWriteMs?: number;
}

export interface PasswordCache {
  get(namespace: string, secretName: string): Promise<string>;
}
