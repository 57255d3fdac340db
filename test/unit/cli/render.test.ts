import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { NodeStatus, RedisReplication } from '../../../src/api/schema.js';
import { formatDuration, renderStatus, treeLines } from '../../../src/cli/render.js';
import { parseArgs, useColor } from '../../../src/cli/status.js';

const fixture = (file: string) => new URL(`../../fixtures/status/${file}`, import.meta.url);
const cascade = (): RedisReplication => JSON.parse(readFileSync(fixture('cascade.json'), 'utf8')) as RedisReplication;
const now = new Date('2026-11-24T12:00:00Z');
const ANSI = /\u001b\[[0-9;]*m/;

describe('renderStatus', () => {
  it('renders a cascade (1 primary, 2 tier-1, 4 tier-2; one lagging, one syncing, one down) as a tree', () => {
    // The expected text is written out in full here; test/fixtures/status/cascade.txt holds the same.
    const expected = [
      'RedisReplication demo/cache',
      'Phase:         Degraded',
      'Primary:       cache-2 (198.18.0.4), offset 482113',
      'Ready:         3/6 replicas',
      'Image:         redis:8.0',
      'Generation:    3 (observed 3)',
      'Read lag max:  5s',
      'Password:      Secret cache-auth, key password',
      'Last failover: cache-0 -> cache-2 (PrimaryUnreachable) at 2026-11-24T11:55:00Z, 5m ago',
      'Conditions:',
      '  Ready=False ReplicasNotReady: 3 of 6 replicas are not linked or lag more than 5s',
      '  ReplicasSynced=False ReplicasNotSynced: cache-5 syncing, cache-6 link down',
      '  Progressing=True Syncing: a full sync is in progress',
      '',
      'NODE           LINK     TIER  OFFSET  LAG(B)  LAG(S)  READ  POD IP',
      'cache-2        primary     0  482113       -       -  ✗     198.18.0.4',
      '├─ cache-1     up          1  482113       0      0s  ✓     198.18.0.3',
      '│  ├─ cache-3  up          2  482113       0      0s  ✓     198.18.0.5',
      '│  └─ cache-4  up          2  431870   50243     12s  ✗     198.18.0.6  lagging > 5s',
      '└─ cache-7     up          1  482099      14      1s  ✓     198.18.0.9',
      '   ├─ cache-5  syncing     2       0       -       -  ✗     198.18.0.7',
      '   └─ cache-6  down        2  380002  102097     41s  ✗     198.18.0.8',
      '',
    ].join('\n');
    const text = renderStatus(cascade(), { color: false, now });
    expect(text).toBe(expected);
    expect(readFileSync(fixture('cascade.txt'), 'utf8')).toBe(expected);
  });

  it('colours only when asked: green up, red down, yellow syncing, phase by severity', () => {
    const plain = renderStatus(cascade(), { color: false, now });
    expect(plain).not.toMatch(ANSI);
    const coloured = renderStatus(cascade(), { color: true, now });
    expect(coloured).toMatch(ANSI);
    expect(coloured).toContain('\u001b[32mup\u001b[0m');
    expect(coloured).toContain('\u001b[31mdown\u001b[0m');
    expect(coloured).toContain('\u001b[33msyncing\u001b[0m');
    expect(coloured).toContain('\u001b[33mDegraded\u001b[0m');
    expect(coloured).toContain('\u001b[32m✓\u001b[0m');
    // Without the escapes, the coloured text is the plain text: alignment does not depend on colour.
    expect(coloured.replace(/\u001b\[[0-9;]*m/g, '')).toBe(plain);
  });

  it('a Ready resource says its conditions are as expected and omits the failover line', () => {
    const rr = cascade();
    rr.status = {
      ...rr.status,
      phase: 'Ready',
      readyReplicas: 6,
      lastFailover: undefined,
      conditions: rr.status!.conditions!.map((c) => ({ ...c, status: c.type === 'Progressing' ? 'False' : 'True' })),
    };
    const text = renderStatus(rr, { color: false, now });
    expect(text).toContain('Phase:         Ready\n');
    expect(text).toContain('Ready:         6/6 replicas\n');
    expect(text).toContain('Conditions:    all as expected\n');
    expect(text).not.toContain('Last failover');
  });

  it('renders a node whose parent is missing under a "(parent missing)" marker instead of dropping it', () => {
    const rr = cascade();
    const nodes = rr.status!.nodes!.filter((n) => n.name !== 'cache-7'); // cache-5 and cache-6 lose their parent
    rr.status = { ...rr.status, nodes: [...nodes, { name: 'cache-9', role: 'replica', tier: 1, read: false }] };
    const text = renderStatus(rr, { color: false, now });
    const table = text.slice(text.indexOf('NODE'));
    expect(table).toBe(
      [
        'NODE           LINK     TIER  OFFSET  LAG(B)  LAG(S)  READ  POD IP',
        'cache-2        primary     0  482113       -       -  ✗     198.18.0.4',
        '└─ cache-1     up          1  482113       0      0s  ✓     198.18.0.3',
        '   ├─ cache-3  up          2  482113       0      0s  ✓     198.18.0.5',
        '   └─ cache-4  up          2  431870   50243     12s  ✗     198.18.0.6  lagging > 5s',
        '(parent missing: cache-7)',
        '├─ cache-5     syncing     2       0       -       -  ✗     198.18.0.7',
        '└─ cache-6     down        2  380002  102097     41s  ✗     198.18.0.8',
        '(parent missing: none named)',
        '└─ cache-9     unknown     1       -       -       -  ✗     -',
        '',
      ].join('\n'),
    );
  });

  it('never drops a node, even in a parent cycle or with no primary at all', () => {
    const n = (name: string, parent?: string): NodeStatus => ({ name, role: 'replica', tier: 1, parent, read: false });
    const nodes = [n('a', 'b'), n('b', 'a'), n('c', 'a')];
    const lines = treeLines(nodes, undefined);
    expect(lines.filter((l) => l.node).map((l) => l.node!.name).sort()).toEqual(['a', 'b', 'c']);
    expect(lines[0]!.marker).toMatch(/^\(parent missing/);
  });

  it('says so when the status has no topology yet, and lists pods the status does not know', () => {
    const rr = cascade();
    rr.status = undefined;
    const text = renderStatus(rr, {
      color: false,
      now,
      pods: [{ name: 'cache-0', phase: 'Pending', ready: false, restarts: 0 }],
    });
    expect(text).toContain('Phase:         (not reported yet)');
    expect(text).toContain('Primary:       none');
    expect(text).toContain('No topology reported yet');
    expect(text).toContain('Pods not in the topology yet: cache-0 (Pending)');
  });
});

describe('status command helpers', () => {
  it('parses NAME, -n, --watch and --no-color', () => {
    expect(parseArgs(['cache', '-n', 'demo', '--watch', '--no-color'])).toMatchObject({ name: 'cache', namespace: 'demo', watch: true, noColor: true });
    expect(parseArgs(['--namespace=x', 'cache'])).toMatchObject({ name: 'cache', namespace: 'x', watch: false });
    expect(() => parseArgs([])).toThrow(/name the RedisReplication/);
    expect(() => parseArgs(['cache', '--bogus'])).toThrow(/unknown option/);
  });

  it('colours only on a terminal, without --no-color and without NO_COLOR', () => {
    expect(useColor(false, {}, true)).toBe(true);
    expect(useColor(false, {}, false)).toBe(false);
    expect(useColor(true, {}, true)).toBe(false);
    expect(useColor(false, { NO_COLOR: '1' }, true)).toBe(false);
  });

  it('says which Secret holds the password: the generated one, a named one, or none with auth off', () => {
    const line = (spec: unknown) => renderStatus({ ...cascade(), spec } as RedisReplication, { color: false, now }).split('\n').find((l) => l.startsWith('Password:'));
    expect(line({})).toBe('Password:      Secret cache-auth, key password');
    expect(line({ auth: { secretName: 'team-password' } })).toBe('Password:      Secret team-password, key password');
    expect(line({ auth: { enabled: false } })).toBe('Password:      none (auth.enabled: false)');
  });

  it('formats durations', () => {
    expect([formatDuration(4_000), formatDuration(190_000), formatDuration(7_500_000), formatDuration(3 * 86_400_000)]).toEqual(['4s', '3m10s', '2h5m', '3d']);
  });
});

describe('node and zone', () => {
  it('shows what and where each pod runs when status knows it', async () => {
    const { renderStatus } = await import('../../../src/cli/render.js');
    const rr = {
      apiVersion: 'redis.replication.dev/v1alpha1',
      kind: 'RedisReplication',
      metadata: { name: 'c', namespace: 'ns', uid: 'u' },
      spec: {},
      status: {
        phase: 'Ready' as const,
        primary: 'c-0',
        nodes: [{ name: 'c-0', role: 'primary' as const, tier: 0, podIP: '10.0.0.1', node: 'node-a', zone: 'zone-1', server: 'valkey', version: '8.1.8', read: false }],
      },
    };
    expect(renderStatus(rr, { color: false, now: new Date('2026-12-01T00:00:00Z') })).toContain('valkey 8.1.8, on node-a in zone-1');
  });
});

describe('renderStatus: backups and restore', () => {
  const backup = (name: string, phase: 'Completed' | 'Failed', completedAt?: string) => ({
    apiVersion: 'v', kind: 'RedisBackup', metadata: { name, namespace: 'demo' }, spec: { replication: 'cache' },
    status: { phase, ...(completedAt ? { completedAt, size: 1024, sourcePod: 'cache-1' } : {}) },
  });

  it('shows the newest completed backup, or none, and where a restored resource came from', () => {
    const backups = [backup('b-old', 'Completed', '2026-11-24T10:00:00Z'), backup('b-new', 'Completed', '2026-11-24T11:00:00Z'), backup('b-failed', 'Failed')];
    const text = renderStatus(cascade(), { color: false, now, backups });
    expect(text).toContain('Last backup:   b-new (1024 bytes from cache-1) at 2026-11-24T11:00:00Z, 1h ago');
    expect(renderStatus(cascade(), { color: false, now, backups: [backup('b-failed', 'Failed')] })).toContain('Last backup:   none completed');
    expect(renderStatus(cascade(), { color: false, now })).not.toContain('Last backup');
    const restored = { ...cascade(), status: { ...cascade().status, restore: { backup: 'b-new', phase: 'Completed' as const, keys: 500, pod: 'cache-0' } } };
    expect(renderStatus(restored, { color: false, now })).toContain('Restored from: RedisBackup b-new: Completed, 500 keys into cache-0');
  });

  it('shows the archive: how far behind it is, whom it follows, its base and why it waits', () => {
    const archived = (archive: Record<string, unknown>) => ({ ...cascade(), status: { ...cascade().status, archive } });
    const live = archived({ base: 'b-new', lastArchivedTime: new Date(now.getTime() - 40_000).toISOString(), lagBytes: 1200, sourcePod: 'cache-1' });
    expect(renderStatus(live, { color: false, now })).toContain('Archive:       stored up to 40s ago, 1200 bytes behind, from cache-1 (base b-new)');
    expect(renderStatus(archived({ lastError: 'waiting for RedisBackup cache-base-1' }), { color: false, now })).toContain('Archive:       nothing stored yet; waiting for RedisBackup cache-base-1');
    expect(renderStatus(cascade(), { color: false, now })).not.toContain('Archive');
  });
});
