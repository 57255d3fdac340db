/**
 * What the integration tests share: helm from the binary cache, the chart rendered and parsed, and the
 * RBAC rules the operator's code needs (read from src/).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { HelmMissingError, findHelm, helmTemplate } from '../../hack/render-manifests.js';
import { repoRoot } from '../../hack/lib.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Obj = Record<string, any>;

let helmPath: string | undefined;
let helmError: Error | undefined;
try {
  helmPath = findHelm();
} catch (err) {
  helmError = err as Error;
}

/** The helm binary; throws the "how to build it" message when it is missing. */
export function helm(): string {
  if (helmPath === undefined) throw helmError ?? new HelmMissingError('helm not found');
  return helmPath;
}

export const read = (rel: string): string => readFileSync(join(repoRoot, rel), 'utf8');

export function docs(text: string): Obj[] {
  return parseAllDocuments(text)
    .map((d) => {
      if (d.errors.length > 0) throw new Error(d.errors[0]?.message);
      return d.toJS() as Obj | null;
    })
    .filter((d): d is Obj => d !== null && typeof d === 'object');
}

/** Renders the chart with `--set`/`--set-json` style arguments, parsed. */
export function render(...args: string[]): Obj[] {
  return docs(helmTemplate(args, helm()));
}

export const ofKind = (objs: Obj[], kind: string): Obj[] => objs.filter((o) => o.kind === kind);
export function one(objs: Obj[], kind: string): Obj {
  const found = ofKind(objs, kind);
  expect(found, `exactly one ${kind}`).toHaveLength(1);
  return found[0] as Obj;
}

/** Rules normalized for comparison: one entry per (group, resource), verbs sorted. */
export function normalizeRules(rules: Obj[]): string[] {
  const out: string[] = [];
  for (const r of rules) {
    expect(r.resourceNames ?? [], 'no resourceNames expected').toEqual([]);
    expect(r.nonResourceURLs, 'no nonResourceURLs expected').toBeUndefined();
    for (const g of r.apiGroups as string[]) {
      for (const res of r.resources as string[]) {
        out.push(`${g}/${res}: ${[...(r.verbs as string[])].sort().join(',')}`);
      }
    }
  }
  return out.sort();
}

/**
 * The API calls the operator makes, read from its code (src/ but the CLI, which runs with the user's
 * own credentials): client-node method names say verb and resource; whatever is listed is watched
 * (informers). redisreplications/finalizers is the one rule no call shows: the API server requires it
 * to set blockOwnerDeletion on owner references (OpenShift enforces it).
 */
export function rulesFromCode(): { objects: string[]; nodes: string[]; leases: string[] } {
  const files = (function walk(dir: string): string[] {
    return readdirSync(join(repoRoot, dir), { withFileTypes: true }).flatMap((e) =>
      e.isDirectory() ? (e.name === 'cli' ? [] : walk(`${dir}/${e.name}`)) : e.name.endsWith('.ts') ? [`${dir}/${e.name}`] : [],
    );
  })('src');
  const verbs = new Map<string, Set<string>>();
  const add = (resource: string, verb: string) => verbs.set(resource, new Set([...(verbs.get(resource) ?? []), verb]));
  const RESOURCE: Record<string, string> = {
    Pod: '/pods',
    Service: '/services',
    PersistentVolumeClaim: '/persistentvolumeclaims',
    Secret: '/secrets',
    Event: '/events',
    Lease: 'coordination.k8s.io/leases',
    Node: '/nodes',
    PodDisruptionBudget: 'policy/poddisruptionbudgets',
    NetworkPolicy: 'networking.k8s.io/networkpolicies',
    CustomObject: 'redis.replication.dev/redisreplications',
    CustomObjectStatus: 'redis.replication.dev/redisreplications/status',
  };
  const VERB: Record<string, string> = { create: 'create', delete: 'delete', patch: 'patch', read: 'get', replace: 'update', list: 'list' };
  for (const file of files) {
    for (const [, verb, kind, args] of read(file).matchAll(/\.(create|delete|patch|read|replace|list)(?:Namespaced|Cluster)?(\w+?)(?:ForAllNamespaces)?\(([^)]*)/g)) {
      // A custom object call names its kind by the plural it passes: RedisBackups by BACKUP_PLURAL.
      const resource = kind!.startsWith('CustomObject') && args!.includes('BACKUP_PLURAL') ? RESOURCE[kind!]!.replace('redisreplications', 'redisbackups') : RESOURCE[kind!];
      if (!resource) continue;
      add(resource, VERB[verb!]!);
      if (verb === 'list') add(resource, 'watch');
    }
  }
  add('redis.replication.dev/redisreplications/finalizers', 'update');
  const rules = [...verbs].map(([r, v]) => `${r}: ${[...v].sort().join(',')}`).sort();
  return {
    objects: rules.filter((r) => !r.includes('leases') && !r.startsWith('/nodes')),
    nodes: rules.filter((r) => r.startsWith('/nodes')),
    leases: rules.filter((r) => r.includes('leases')),
  };
}

