// Pure rendering of a RedisReplication for `npm run status` and `npm run demo`: a header and the
// replication topology as a tree (primary at the root, each replica under its parent).
import { parseSpec, type Condition, type NodeStatus, type RedisReplication } from '../api/schema.js';
import type { RedisBackup } from '../api/backup.js';
import { passwordSecret } from '../plan/secrets.js';

/** What the pods say beyond the status; optional extra facts for the view. */
export interface PodFacts {
  name: string;
  /** Pod phase (Pending, Running, ...), or "Terminating". */
  phase: string;
  ready: boolean;
  podIP?: string;
  restarts: number;
}

export interface RenderOptions {
  color: boolean;
  now: Date;
  /** The resource's pods, when the caller listed them. */
  pods?: PodFacts[];
  /** The RedisBackups of the resource, when the caller listed them. */
  backups?: RedisBackup[];
}

type Paint = (s: string) => string;

const ESC = '\u001b[';
const sgr =
  (code: string): Paint =>
  (s) =>
    `${ESC}${code}m${s}${ESC}0m`;
const PAINT = {
  green: sgr('32'),
  red: sgr('31'),
  yellow: sgr('33'),
  cyan: sgr('36'),
  bold: sgr('1'),
  dim: sgr('2'),
} as const;
const plain: Paint = (s) => s;

/** The state each known condition has when all is well. */
const EXPECTED: Record<string, Condition['status']> = {
  Ready: 'True',
  PrimaryAvailable: 'True',
  ReplicasSynced: 'True',
  Progressing: 'False',
};

function phasePaint(phase: string | undefined): keyof typeof PAINT | undefined {
  switch (phase) {
    case 'Ready':
      return 'green';
    case 'Degraded':
    case 'FailingOver':
      return 'yellow';
    case 'Failed':
      return 'red';
    case 'Pending':
    case 'Provisioning':
      return 'cyan';
    default:
      return undefined;
  }
}

/** "42s", "3m10s", "2h5m", "4d3h". */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${s % 60 ? `${s % 60}s` : ''}`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h}h${m % 60 ? `${m % 60}m` : ''}`;
  const d = Math.floor(h / 24);
  return `${d}d${h % 24 ? `${h % 24}h` : ''}`;
}

function ago(time: string | undefined, now: Date): string | undefined {
  if (!time) return undefined;
  const t = Date.parse(time);
  if (Number.isNaN(t)) return undefined;
  return `${formatDuration(now.getTime() - t)} ago`;
}

/** Fields of the raw spec the view shows; the spec is unvalidated, so read it defensively. */
function specFacts(spec: unknown): { image?: string; maxLagSeconds: number } {
  const s = (typeof spec === 'object' && spec !== null ? spec : {}) as Record<string, unknown>;
  const image = typeof s.image === 'string' ? s.image : undefined;
  const rs = (typeof s.readService === 'object' && s.readService !== null ? s.readService : {}) as Record<string, unknown>;
  const maxLagSeconds = typeof rs.maxLagSeconds === 'number' ? rs.maxLagSeconds : 5;
  return { image, maxLagSeconds };
}

/** Where clients find the password (the Secret, as the operator resolves it), or that there is none;
 * nothing for a spec the operator would refuse. */
function passwordLine(rr: RedisReplication): string | undefined {
  const parsed = parseSpec(rr.spec, rr.metadata.name);
  if (!parsed.ok) return undefined;
  const source = passwordSecret(rr.metadata.name, parsed.spec);
  return source ? `Secret ${source.secretName}, key password` : 'none (auth.enabled: false)';
}

interface Cell {
  text: string;
  paint?: keyof typeof PAINT;
}

/** One line of the tree: its prefix ("│  ├─ ") and the node, or a marker line with no node. */
interface TreeLine {
  prefix: string;
  node?: NodeStatus;
  marker?: string;
}

/**
 * Orders the nodes as a forest: the primary's tree first, then every node no walk from a root
 * reaches (its parent is missing, it names no parent, or it sits in a cycle) grouped under a
 * "(parent missing: X)" marker, so that no node is ever dropped.
 */
export function treeLines(nodes: NodeStatus[], primary: string | undefined): TreeLine[] {
  const byName = new Map(nodes.map((n) => [n.name, n]));
  const children = new Map<string, NodeStatus[]>();
  for (const n of nodes) {
    if (n.parent === undefined || n.parent === n.name) continue;
    const list = children.get(n.parent) ?? [];
    list.push(n);
    children.set(n.parent, list);
  }
  const visited = new Set<string>();
  const lines: TreeLine[] = [];

  const walk = (node: NodeStatus, prefix: string, childPrefix: string): void => {
    visited.add(node.name);
    lines.push({ prefix, node });
    const kids = (children.get(node.name) ?? []).filter((k) => !visited.has(k.name));
    kids.forEach((k, i) => {
      const last = i === kids.length - 1;
      walk(k, childPrefix + (last ? '└─ ' : '├─ '), childPrefix + (last ? '   ' : '│  '));
    });
  };

  // Roots: the status primary, then any other node that claims to be a primary and names no parent.
  const roots: NodeStatus[] = [];
  const statusPrimary = primary !== undefined ? byName.get(primary) : undefined;
  if (statusPrimary) roots.push(statusPrimary);
  for (const n of nodes) if (n.role === 'primary' && n.parent === undefined && n !== statusPrimary) roots.push(n);
  for (const r of roots) if (!visited.has(r.name)) walk(r, '', '');

  // Orphans: heads are nodes whose parent is not in the status (or that name none); each head's
  // subtree follows it. Grouped by the parent they name, in status order.
  const missingLabel = (n: NodeStatus): string | undefined => {
    if (n.parent === undefined || n.parent === n.name) return '(parent missing: none named)';
    return byName.has(n.parent) ? undefined : `(parent missing: ${n.parent})`;
  };
  const groups = new Map<string, NodeStatus[]>();
  for (const n of nodes) {
    const label = visited.has(n.name) ? undefined : missingLabel(n);
    if (label === undefined) continue;
    groups.set(label, [...(groups.get(label) ?? []), n]);
  }
  // Whatever is still unreached sits in a parent cycle.
  const walkGroup = (label: string, heads: NodeStatus[]): void => {
    lines.push({ prefix: '', marker: label });
    heads.forEach((h, i) => {
      if (visited.has(h.name)) return;
      const last = i === heads.length - 1;
      walk(h, last ? '└─ ' : '├─ ', last ? '   ' : '│  ');
    });
  };
  for (const [label, heads] of groups) walkGroup(label, heads);
  const rest = nodes.filter((n) => !visited.has(n.name));
  if (rest.length > 0) walkGroup('(parent missing: in a cycle, unreachable from the primary)', rest);
  return lines;
}

function nodeCells(n: NodeStatus, isPrimary: boolean, maxLagSeconds: number, pod: PodFacts | undefined): Cell[] {
  const dash: Cell = { text: '-', paint: 'dim' };
  const link: Cell = isPrimary
    ? { text: 'primary', paint: 'bold' }
    : n.link === 'up'
      ? { text: 'up', paint: 'green' }
      : n.link === 'down'
        ? { text: 'down', paint: 'red' }
        : n.link === 'syncing'
          ? { text: 'syncing', paint: 'yellow' }
          : { text: 'unknown', paint: 'dim' };
  const lagging = !isPrimary && n.lagSeconds !== undefined && n.lagSeconds > maxLagSeconds;
  const lagBytes: Cell = isPrimary || n.lagBytes === undefined ? dash : { text: String(n.lagBytes), paint: n.lagBytes > 0 ? 'yellow' : undefined };
  const lagSeconds: Cell = isPrimary || n.lagSeconds === undefined ? dash : { text: `${n.lagSeconds}s`, paint: lagging ? 'red' : undefined };
  const read: Cell = n.read ? { text: '✓', paint: 'green' } : { text: '✗', paint: isPrimary ? 'dim' : 'red' };
  const ip = n.podIP ?? pod?.podIP;
  const notes: string[] = [];
  if (lagging && n.link === 'up') notes.push(`lagging > ${maxLagSeconds}s`);
  if (pod && !pod.ready) notes.push(`pod ${pod.phase === 'Running' ? 'not ready' : pod.phase}`);
  if (pod && pod.restarts > 0) notes.push(`${pod.restarts} restart${pod.restarts === 1 ? '' : 's'}`);
  return [
    link,
    { text: String(n.tier) },
    n.offset === undefined ? dash : { text: String(n.offset) },
    lagBytes,
    lagSeconds,
    read,
    ip ? { text: ip } : dash,
    {
      text: [...(n.server ? [`${n.server} ${n.version ?? ''}`.trim()] : []), ...(n.node ? [`on ${n.node}${n.zone ? ` in ${n.zone}` : ''}`] : []), ...notes].join(', '),
      paint: notes.length > 0 ? 'yellow' : undefined,
    },
  ];
}

const HEADINGS = ['NODE', 'LINK', 'TIER', 'OFFSET', 'LAG(B)', 'LAG(S)', 'READ', 'POD IP', ''];
/** Right-aligned columns (numbers). */
const RIGHT = new Set([2, 3, 4, 5]);

/** Width in terminal columns; the glyphs used here are all one column wide. */
const width = (s: string): number => [...s].length;

function table(rows: (Cell[] | string)[], p: (k: keyof typeof PAINT | undefined) => Paint): string[] {
  const cols = HEADINGS.length;
  const widths = new Array<number>(cols).fill(0);
  for (const r of rows) if (Array.isArray(r)) r.forEach((c, i) => (widths[i] = Math.max(widths[i]!, width(c.text))));
  return rows.map((r) => {
    if (!Array.isArray(r)) return r;
    let end = r.length;
    while (end > 0 && r[end - 1]!.text === '') end--;
    const out = r.slice(0, end).map((c, i) => {
      const pad = ' '.repeat(widths[i]! - width(c.text));
      const text = c.text === '' ? '' : p(c.paint)(c.text);
      if (RIGHT.has(i)) return pad + text;
      return i === end - 1 ? text : text + pad;
    });
    return out.join('  ');
  });
}

/** The newest Completed backup (by completion time). */
function lastBackup(backups: RedisBackup[]): RedisBackup | undefined {
  return backups.filter((b) => b.status?.phase === 'Completed').sort((a, b) => (b.status!.completedAt ?? '').localeCompare(a.status!.completedAt ?? ''))[0];
}

/** The status view: header and topology tree. Pure: the same resource and options give the same text. */
export function renderStatus(rr: RedisReplication, opts: RenderOptions): string {
  const p = (k: keyof typeof PAINT | undefined): Paint => (opts.color && k ? PAINT[k] : plain);
  const st = rr.status ?? {};
  const { image, maxLagSeconds } = specFacts(rr.spec);
  const nodes = st.nodes ?? [];
  const pods = new Map((opts.pods ?? []).map((x) => [x.name, x]));
  const out: string[] = [];

  const field = (label: string, value: string) => out.push(`${`${label}:`.padEnd(15)}${value}`.trimEnd());
  out.push(p('bold')(`RedisReplication ${rr.metadata.namespace}/${rr.metadata.name}`));
  field('Phase', st.phase ? p(phasePaint(st.phase))(st.phase) : p('dim')('(not reported yet)'));
  const primaryNode = st.primary !== undefined ? nodes.find((n) => n.name === st.primary) : undefined;
  const primaryIP = primaryNode?.podIP ?? (st.primary ? pods.get(st.primary)?.podIP : undefined);
  field(
    'Primary',
    st.primary
      ? `${st.primary}${primaryIP ? ` (${primaryIP})` : ''}${st.primaryOffset !== undefined ? `, offset ${st.primaryOffset}` : ''}`
      : p('red')('none'),
  );
  const ready = st.readyReplicas ?? 0;
  const desired = st.desiredReplicas;
  const readyText = `${ready}/${desired ?? '?'} replicas`;
  field('Ready', desired !== undefined && ready >= desired ? p('green')(readyText) : p('yellow')(readyText));
  field('Image', image ?? 'redis:8.0 (default)');
  const gen = rr.metadata.generation;
  const observed = st.observedGeneration;
  const genText = `${gen ?? '?'} (observed ${observed ?? 'none'})`;
  field('Generation', gen !== undefined && observed !== gen ? p('yellow')(`${genText}, not yet reconciled`) : genText);
  field('Read lag max', `${maxLagSeconds}s`);
  const password = passwordLine(rr);
  if (password) field('Password', password);
  if (st.lastFailover) {
    const f = st.lastFailover;
    const when = ago(f.time, opts.now);
    field('Last failover', `${f.from} -> ${f.to} (${f.reason}) at ${f.time}${when ? `, ${when}` : ''}`);
  }
  const last = lastBackup(opts.backups ?? []);
  if (last) {
    const s = last.status!;
    const when = s.completedAt ? ago(s.completedAt, opts.now) : undefined;
    field('Last backup', `${last.metadata.name} (${s.size} bytes from ${s.sourcePod}) at ${s.completedAt}${when ? `, ${when}` : ''}`);
  } else if (opts.backups) field('Last backup', p('dim')('none completed'));
  if (st.archive) {
    const a = st.archive;
    const when = ago(a.lastArchivedTime, opts.now);
    const parts = [when ? `stored up to ${when}` : 'nothing stored yet', ...(a.lagBytes !== undefined ? [`${a.lagBytes} bytes behind`] : []), ...(a.sourcePod ? [`from ${a.sourcePod}`] : [])];
    const text = `${parts.join(', ')}${a.base ? ` (base ${a.base})` : ''}`;
    field('Archive', a.lastError ? `${text}; ${p('yellow')(a.lastError)}` : text);
  }
  if (st.restore) {
    const r = st.restore;
    const text = `RedisBackup ${r.backup}: ${r.phase}${r.phase === 'Completed' ? `, ${r.keys} keys into ${r.pod}` : r.reason ? ` (${r.reason}${r.message ? `: ${r.message}` : ''})` : ''}`;
    field('Restored from', r.phase === 'Failed' ? p('red')(text) : text);
  }
  const conditions = st.conditions ?? [];
  const unexpected = conditions.filter((c) => (EXPECTED[c.type] !== undefined ? c.status !== EXPECTED[c.type] : c.status !== 'True'));
  if (conditions.length === 0) field('Conditions', p('dim')('(none reported yet)'));
  else if (unexpected.length === 0) field('Conditions', p('green')('all as expected'));
  else {
    field('Conditions', '');
    for (const c of unexpected) {
      const sev = c.type === 'Progressing' ? 'yellow' : 'red';
      out.push(`  ${p(sev)(`${c.type}=${c.status}`)} ${c.reason}${c.message ? `: ${c.message}` : ''}`);
    }
  }

  out.push('');
  if (nodes.length === 0) {
    out.push(p('dim')('No topology reported yet (status.nodes is empty).'));
  } else {
    const rows: (Cell[] | string)[] = [HEADINGS.map((h) => ({ text: h, paint: 'bold' as const }))];
    for (const line of treeLines(nodes, st.primary)) {
      if (line.marker !== undefined) {
        rows.push(p('yellow')(line.marker));
        continue;
      }
      const n = line.node!;
      const isPrimary = n.role === 'primary' && n.parent === undefined;
      const name = `${line.prefix}${n.name}`;
      rows.push([{ text: name, paint: isPrimary ? 'bold' : undefined }, ...nodeCells(n, isPrimary, maxLagSeconds, pods.get(n.name))]);
    }
    out.push(...table(rows, p));
  }

  // Pods that exist but the status does not list yet (being created, or just added).
  const listed = new Set(nodes.map((n) => n.name));
  const extra = (opts.pods ?? []).filter((x) => !listed.has(x.name));
  if (extra.length > 0) {
    out.push('');
    out.push(`Pods not in the topology yet: ${extra.map((x) => `${x.name} (${x.phase}${x.podIP ? `, ${x.podIP}` : ''})`).join(', ')}`);
  }
  return `${out.join('\n')}\n`;
}
