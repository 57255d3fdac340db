import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { NodeStatus } from '../../../src/api/schema.js';
import { backupSource, backupTimestamp, basePrefix } from '../../../src/plan/backup.js';

const primary: NodeStatus = { name: 'c-0', role: 'primary', tier: 0, podIP: '10.0.0.1', offset: 1000, read: false };
const replica = (name: string, offset: number, extra: Partial<NodeStatus> = {}): NodeStatus => ({
  name, role: 'replica', tier: 1, parent: 'c-0', podIP: `10.0.1.${name.slice(2)}`, link: 'up', offset, read: true, ...extra,
});
const chosen = (nodes: NodeStatus[]) => {
  const c = backupSource(nodes);
  return 'pod' in c ? c.pod.name : c.reason;
};

describe('backupSource', () => {
  it('takes the most up to date linked replica', () => {
    expect(chosen([primary, replica('c-1', 900), replica('c-2', 990), replica('c-3', 950)])).toBe('c-2');
  });

  it('spares the only read target while another replica is linked', () => {
    expect(chosen([primary, replica('c-1', 990), replica('c-2', 900, { read: false })])).toBe('c-2');
  });

  it('takes the one linked replica even when it serves the reads: never the primary while a replica can do it', () => {
    expect(chosen([primary, replica('c-1', 990)])).toBe('c-1');
  });

  it('takes the primary only when it has no replica at all', () => {
    expect(chosen([primary])).toBe('c-0');
    expect(chosen([primary, replica('c-1', 0, { link: 'syncing' })])).toBe('NoSource');
    expect(chosen([primary, replica('c-1', 0, { link: 'down' })])).toBe('NoSource');
  });

  it('never picks the primary while replicas exist, nor a replica that is not linked', () => {
    const nodes = fc.array(
      fc.record({ n: fc.integer({ min: 1, max: 20 }), offset: fc.nat(), link: fc.constantFrom('up', 'down', 'syncing') as fc.Arbitrary<'up' | 'down' | 'syncing'>, read: fc.boolean() }),
      { maxLength: 6 },
    );
    fc.assert(
      fc.property(nodes, (rs) => {
        const all = [primary, ...new Map(rs.map((r) => [r.n, replica(`c-${r.n}`, r.offset, { link: r.link, read: r.read })])).values()];
        const c = backupSource(all);
        if (!('pod' in c)) return all.some((n) => n.role === 'replica') && !all.some((n) => n.role === 'replica' && n.link === 'up');
        if (c.pod.role === 'primary') return all.length === 1;
        const linked = all.filter((n) => n.role === 'replica' && n.link === 'up');
        return c.pod.link === 'up' && linked.filter((n) => n.offset! > c.pod.offset!).every((n) => n.read && all.filter((x) => x.read).length === 1);
      }),
    );
  });
});

describe('where a backup goes', () => {
  it('<path>/<resource>/base/<timestamp>/, whatever slashes the path has', () => {
    const at = new Date('2026-12-04T10:15:00.123Z');
    expect(backupTimestamp(at)).toBe('20261204T101500Z');
    expect(basePrefix({ path: '' }, 'cache', at)).toBe('cache/base/20261204T101500Z/');
    expect(basePrefix({ path: '/team//backups/' }, 'cache', at)).toBe('team/backups/cache/base/20261204T101500Z/');
  });
});
