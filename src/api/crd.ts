// The CustomResourceDefinition, built from the zod schemas in schema.ts and post-processed into a
// structural schema that the API server accepts.
import { z } from 'zod';
import { stringify } from 'yaml';
import { GROUP, KIND, PLURAL, VERSION, resourceNameValidations, specSchema, statusSchema } from './schema.js';
import { BACKUP_KIND, BACKUP_PLURAL, backupSpecSchema, backupStatusSchema } from './backup.js';

type JsonSchema = { [key: string]: unknown };

const isSchema = (v: unknown): v is JsonSchema => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Quantities are `string | number` in zod and int-or-string in Kubernetes. */
function isIntOrString(node: JsonSchema): boolean {
  const anyOf = node['anyOf'];
  if (!Array.isArray(anyOf) || anyOf.length !== 2) return false;
  const types = anyOf.map((s: unknown) => (isSchema(s) ? s['type'] : undefined)).sort();
  return (types[0] === 'integer' || types[0] === 'number') && types[1] === 'string';
}

/** Rewrites one JSON schema (and everything below it) into the structural form CRDs require. */
export function structural(node: JsonSchema): JsonSchema {
  if (isIntOrString(node)) {
    // The string's bound and the rules stay: the API server prices a rule by the longest value.
    const maxLength = (node['anyOf'] as JsonSchema[]).find((s) => s['type'] === 'string')?.['maxLength'];
    const rules = node['x-kubernetes-validations'];
    const description = node['description'];
    return {
      ...(description === undefined ? {} : { description }),
      'x-kubernetes-int-or-string': true,
      ...(maxLength === undefined ? {} : { maxLength }),
      ...(rules ? { 'x-kubernetes-validations': rules } : {}),
    };
  }
  // An object passed through as it is: no properties to list, nothing to strip.
  if (node['x-kubernetes-preserve-unknown-fields'] === true) return { type: 'object', 'x-kubernetes-preserve-unknown-fields': true };
  const out: JsonSchema = {};
  for (const [key, value] of Object.entries(node)) {
    // Strictness comes from the API server's field validation: CRDs forbid it beside `properties`.
    if (key === 'additionalProperties' && value === false) continue;
    // zod bounds every int by the safe-integer range: noise in a CRD.
    if ((key === 'minimum' || key === 'maximum') && Math.abs(value as number) === Number.MAX_SAFE_INTEGER) continue;
    if (key === 'properties' && isSchema(value)) {
      out[key] = Object.fromEntries(Object.entries(value).map(([k, v]) => [k, isSchema(v) ? structural(v) : v]));
    } else if ((key === 'items' || key === 'additionalProperties') && isSchema(value)) {
      out[key] = structural(value);
    } else {
      out[key] = value;
    }
  }
  return out;
}

function listMap(list: unknown, key: string): JsonSchema {
  return { ...(list as JsonSchema), 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': [key] };
}

function specJsonSchema(): JsonSchema {
  // A resource without a spec gets the fully defaulted one. Not `{}`: the API server checks the
  // spec's CEL rules on the default as written, and they read self.replicas.
  return { ...structural(z.toJSONSchema(specSchema, { target: 'openapi-3.0', io: 'input' })), default: specSchema.parse({}) };
}

function statusJsonSchema(): JsonSchema {
  const status = structural(z.toJSONSchema(statusSchema, { target: 'openapi-3.0', io: 'output' }));
  const props = status['properties'] as JsonSchema;
  return {
    ...status,
    properties: { ...props, conditions: listMap(props['conditions'], 'type'), nodes: listMap(props['nodes'], 'name') },
  };
}

const column = (name: string, type: string, jsonPath: string, description: string) => ({ name, type, jsonPath, description });

interface CrdShape {
  kind: string;
  plural: string;
  shortNames: string[];
  subresources: object;
  columns: object[];
  /** The openAPIV3Schema besides its properties (root rules, required). */
  root: object;
  spec: JsonSchema;
  status: JsonSchema;
}

/** A namespaced CRD of the API group, one version. */
function customResourceDefinition(c: CrdShape): object {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${c.plural}.${GROUP}` },
    spec: {
      group: GROUP,
      names: { kind: c.kind, listKind: `${c.kind}List`, plural: c.plural, singular: c.kind.toLowerCase(), shortNames: c.shortNames, categories: ['redis'] },
      scope: 'Namespaced',
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          subresources: c.subresources,
          additionalPrinterColumns: c.columns,
          schema: {
            openAPIV3Schema: {
              type: 'object',
              ...c.root,
              properties: { apiVersion: { type: 'string' }, kind: { type: 'string' }, metadata: { type: 'object' }, spec: c.spec, status: c.status },
            },
          },
        },
      ],
    },
  };
}

export function buildCrd(): object {
  return customResourceDefinition({
    kind: KIND,
    plural: PLURAL,
    shortNames: ['rr', 'redisrepl'],
    subresources: {
      status: {},
      scale: { specReplicasPath: '.spec.replicas', statusReplicasPath: '.status.replicas', labelSelectorPath: '.status.selector' },
    },
    columns: [
      column('Primary', 'string', '.status.primary', 'The pod that is the primary'),
      column('Ready', 'string', '.status.ready', 'Replicas linked and within maxLagSeconds / replicas asked for'),
      column('Max-Lag', 'integer', '.status.maxLagSeconds', 'Largest replica lag in seconds'),
      column('Phase', 'string', '.status.phase', 'Pending, Provisioning, Ready, Degraded, FailingOver or Failed'),
      column('Age', 'date', '.metadata.creationTimestamp', 'Time since creation'),
    ],
    root: { 'x-kubernetes-validations': resourceNameValidations },
    spec: specJsonSchema(),
    status: statusJsonSchema(),
  });
}

/** The RedisBackup CRD: spec.replication is required, and a backup's spec never changes. */
export function buildBackupCrd(): object {
  return customResourceDefinition({
    kind: BACKUP_KIND,
    plural: BACKUP_PLURAL,
    shortNames: ['rrb'],
    subresources: { status: {} },
    columns: [
      column('Replication', 'string', '.spec.replication', 'The RedisReplication backed up'),
      column('Phase', 'string', '.status.phase', 'Pending, Running, Completed or Failed'),
      column('Reason', 'string', '.status.reason', 'Why it is Pending or Failed'),
      column('Size', 'integer', '.status.size', 'Bytes of dump.rdb'),
      column('Age', 'date', '.metadata.creationTimestamp', 'Time since creation'),
    ],
    root: { required: ['spec'] },
    spec: structural(z.toJSONSchema(backupSpecSchema, { target: 'openapi-3.0', io: 'input' })),
    status: structural(z.toJSONSchema(backupStatusSchema, { target: 'openapi-3.0', io: 'output' })),
  });
}

const CRD_HEADER = '# Generated from src/api/schema.ts by `npm run crd:generate`: do not edit.\n';
const BACKUP_CRD_HEADER = '# Generated from src/api/backup.ts by `npm run crd:generate`: do not edit.\n';

/** The text of crds/redisreplications.yaml. */
export function renderCrd(): string {
  return CRD_HEADER + stringify(buildCrd(), { lineWidth: 0 });
}

/** The text of crds/redisbackups.yaml. */
export function renderBackupCrd(): string {
  return BACKUP_CRD_HEADER + stringify(buildBackupCrd(), { lineWidth: 0 });
}
