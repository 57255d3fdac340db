import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { buildCrd, renderCrd, structural } from '../../../src/api/crd.js';
import { specSchema } from '../../../src/api/schema.js';

type Node = { [key: string]: unknown };
const crd = buildCrd() as any;
const version = crd.spec.versions[0];
const root: Node = version.schema.openAPIV3Schema;

/** Every schema node below `node`, with its path. */
function* walk(node: Node, path = ''): Generator<[string, Node]> {
  yield [path, node];
  for (const [name, child] of Object.entries((node['properties'] as Record<string, Node> | undefined) ?? {})) {
    yield* walk(child, `${path}.${name}`);
  }
  for (const key of ['items', 'additionalProperties'] as const) {
    const child = node[key];
    if (typeof child === 'object' && child !== null) yield* walk(child as Node, `${path}[${key}]`);
  }
}

describe('crds/redisreplications.yaml', () => {
  it('is what buildCrd() renders (run npm run crd:generate after changing src/api/schema.ts)', () => {
    const onDisk = readFileSync(new URL('../../../crds/redisreplications.yaml', import.meta.url), 'utf8');
    expect(onDisk).toBe(renderCrd());
  });
});

describe('buildCrd', () => {
  it('names the resource as the contract does', () => {
    expect(crd.metadata.name).toBe('redisreplications.redis.replication.dev');
    expect(crd.spec.group).toBe('redis.replication.dev');
    expect(crd.spec.scope).toBe('Namespaced');
    expect(crd.spec.names).toMatchObject({ kind: 'RedisReplication', plural: 'redisreplications', shortNames: ['rr', 'redisrepl'], categories: ['redis'] });
    expect(version).toMatchObject({ name: 'v1alpha1', served: true, storage: true });
  });

  it('has the status and scale subresources', () => {
    expect(version.subresources).toEqual({
      status: {},
      scale: { specReplicasPath: '.spec.replicas', statusReplicasPath: '.status.replicas', labelSelectorPath: '.status.selector' },
    });
  });

  it('prints PRIMARY, READY, MAX-LAG, PHASE and AGE', () => {
    const columns = version.additionalPrinterColumns.map((c: Node) => [String(c['name']).toUpperCase(), c['jsonPath'], c['type']]);
    expect(columns).toEqual([
      ['PRIMARY', '.status.primary', 'string'],
      ['READY', '.status.ready', 'string'],
      ['MAX-LAG', '.status.maxLagSeconds', 'integer'],
      ['PHASE', '.status.phase', 'string'],
      ['AGE', '.metadata.creationTimestamp', 'date'],
    ]);
    const statusProps = (root['properties'] as any).status.properties;
    for (const c of version.additionalPrinterColumns.filter((c: Node) => String(c['jsonPath']).startsWith('.status.'))) {
      expect(statusProps[String(c.jsonPath).slice('.status.'.length)], c.jsonPath).toBeDefined();
    }
  });

  it('is structural: every node has a type, and no additionalProperties beside properties', () => {
    for (const [path, node] of walk(root)) {
      if (node['x-kubernetes-int-or-string'] === true) {
        expect(node['type'], path).toBeUndefined();
        continue;
      }
      expect(typeof node['type'], `type at ${path || '/'}`).toBe('string');
      if (node['properties'] !== undefined) expect(node['additionalProperties'], path).toBeUndefined();
      for (const banned of ['anyOf', 'oneOf', 'allOf', 'not', '$ref']) expect(node[banned], `${banned} at ${path}`).toBeUndefined();
    }
  });

  it('defaults the spec to the fully defaulted spec so that the CEL rules see every field', () => {
    const spec = (root['properties'] as any).spec;
    expect(spec.default).toEqual(specSchema.parse({}));
    expect(spec.properties.replicas.default).toBe(1);
    expect(spec.properties.image.default).toBe('redis:8.0');
  });

  it('keeps validations and bounds every list and map that a CEL rule reads', () => {
    const spec = (root['properties'] as any).spec;
    expect(spec['x-kubernetes-validations'][0].rule).toContain('<= 250');
    expect(spec.properties.config['x-kubernetes-validations'][0].rule).toContain("'replicaof'");
    expect(spec.properties.config.maxProperties).toBe(64);
    expect(spec.properties.cascade.maxItems).toBe(3);
  });

  it('refuses turning TLS on or off on an existing resource (a transition rule), naming the field', () => {
    const rules = (root['properties'] as any).spec['x-kubernetes-validations'] as { rule: string; fieldPath?: string; message: string }[];
    const rule = rules.find((r) => r.rule.includes('oldSelf'));
    expect(rule).toMatchObject({ fieldPath: '.tls.enabled', message: expect.stringMatching(/^tls\.enabled cannot change/) });
    // Absent and disabled are the same: adding `tls: {enabled: false}` is no change.
    expect(rule!.rule).toBe('(has(self.tls) && self.tls.enabled) == (has(oldSelf.tls) && oldSelf.tls.enabled)');
  });

  it('makes quantities int-or-string, keeping their bound and the rule that checks them (isQuantity on strings)', () => {
    const limits = (root['properties'] as any).spec.properties.resources.properties.limits;
    expect(limits.maxProperties).toBe(32);
    expect(limits.additionalProperties).toMatchObject({ 'x-kubernetes-int-or-string': true, maxLength: 64 });
    expect(limits.additionalProperties['x-kubernetes-validations'][0].rule).toBe("type(self) == int ? self >= 0 : isQuantity(self) && !self.startsWith('-')");
  });

  it('checks the resource name at the root (the one place CEL may read metadata.name): a DNS-1035 label of at most 55 characters', () => {
    const rules = root['x-kubernetes-validations'] as { rule: string; message: string; fieldPath: string }[];
    expect(rules.map((r) => r.rule)).toEqual(['self.metadata.name.size() <= 55', "self.metadata.name.matches('^[a-z]([-a-z0-9]*[a-z0-9])?$')"]);
    for (const r of rules) expect(r).toMatchObject({ fieldPath: '.metadata', message: expect.stringMatching(/^metadata\.name /) });
  });

  it('checks every quantity with isQuantity() and every Secret and class name as a DNS-1123 subdomain', () => {
    const spec = (root['properties'] as any).spec.properties;
    const rule = (node: Node) => (node['x-kubernetes-validations'] as { rule: string }[])[0]!.rule;
    expect(rule(spec.persistence.properties.size)).toContain('isQuantity(self)');
    for (const map of ['limits', 'requests']) expect(rule(spec.resources.properties[map].additionalProperties)).toContain('isQuantity(self)');
    const names = [spec.auth.properties.secretName, spec.auth.properties.users.items.properties.secretName, spec.tls.properties.secretName, spec.persistence.properties.storageClassName, spec.placement.properties.priorityClassName];
    for (const node of names) expect(rule(node)).toMatch(/self\.matches\('\^\[a-z0-9\]/);
  });

  it('refuses dangerous directives and app-user rules unless their flag says so, naming the field; the flags are documented', () => {
    const spec = (root['properties'] as any).spec;
    const config = spec['x-kubernetes-validations'].find((r: Node) => r['fieldPath'] === '.config');
    expect(config.rule).toMatch(/^\(has\(self\.allowDangerousConfig\) && self\.allowDangerousConfig\) \|\| /);
    expect(config.rule).toContain("'loadmodule': true");
    expect(spec.properties.allowDangerousConfig).toMatchObject({ type: 'boolean', description: expect.stringContaining('enable-debug-command') });
    const user = spec.properties.auth.properties.users.items;
    const rules = user['x-kubernetes-validations'].find((r: Node) => r['fieldPath'] === '.rules');
    expect(rules.rule).toMatch(/^\(has\(self\.allowDangerousCommands\) && self\.allowDangerousCommands\) \|\| /);
    expect(user.properties.allowDangerousCommands.description).toContain('-@dangerous');
  });

  it('makes conditions a map keyed by type and nodes a map keyed by name', () => {
    const status = (root['properties'] as any).status.properties;
    expect(status.conditions).toMatchObject({ type: 'array', 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['type'] });
    expect(status.conditions.items.required).toContain('type');
    expect(status.nodes).toMatchObject({ type: 'array', 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['name'] });
    expect(status.nodes.items.required).toContain('name');
    expect(status.ready).toEqual({ type: 'string' });
  });
});

describe('structural', () => {
  it('drops additionalProperties: false and safe-integer bounds, keeps the rest', () => {
    expect(
      structural({
        type: 'object',
        additionalProperties: false,
        properties: { n: { type: 'integer', minimum: -Number.MAX_SAFE_INTEGER, maximum: Number.MAX_SAFE_INTEGER }, m: { type: 'integer', minimum: 0, default: 2 } },
      }),
    ).toEqual({ type: 'object', properties: { n: { type: 'integer' }, m: { type: 'integer', minimum: 0, default: 2 } } });
  });

  it('keeps a typed additionalProperties (a map)', () => {
    expect(structural({ type: 'object', additionalProperties: { type: 'string' } })).toEqual({ type: 'object', additionalProperties: { type: 'string' } });
  });

  it('leaves other unions alone', () => {
    const node = { anyOf: [{ type: 'string' }, { type: 'boolean' }] };
    expect(structural(node)).toEqual(node);
  });
});
