// Small helpers of the benchmarks: statistics, sums over Prometheus samples (parsed by hack/lib.ts parseProm), /proc sampling.
import { readFileSync } from 'node:fs';
import type { Sample } from '../hack/lib.js';

export interface Figure {
  unit: string;
  trials: number;
  median: number | null;
  p95: number | null;
  min: number | null;
  max: number | null;
  values: number[];
}

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 1) return sorted[0]!;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

export function figure(values: number[], unit: string): Figure {
  const v = values.filter((x) => Number.isFinite(x));
  const s = [...v].sort((a, b) => a - b);
  const r = (x: number) => Math.round(x * 1000) / 1000;
  if (s.length === 0) return { unit, trials: 0, median: null, p95: null, min: null, max: null, values: [] };
  return { unit, trials: s.length, median: r(quantile(s, 0.5)), p95: r(quantile(s, 0.95)), min: r(s[0]!), max: r(s[s.length - 1]!), values: v.map(r) };
}

export function sumOf(samples: Sample[], name: string, filter: (l: Record<string, string>) => boolean = () => true): number {
  return samples.filter((s) => s.name === name && filter(s.labels)).reduce((a, s) => a + s.value, 0);
}

export function byLabel(samples: Sample[], name: string, label: string): Record<string, number> {
  const r: Record<string, number> = {};
  for (const s of samples) if (s.name === name) r[s.labels[label] ?? ''] = (r[s.labels[label] ?? ''] ?? 0) + s.value;
  return r;
}

/** Cumulative histogram buckets (le -> count) of one metric, optionally minus an earlier scrape. */
export function buckets(samples: Sample[], name: string, before?: Sample[]): [number, number][] {
  const get = (ss: Sample[]) => {
    const m = new Map<number, number>();
    for (const s of ss) if (s.name === `${name}_bucket`) {
      const le = s.labels.le === '+Inf' ? Infinity : Number(s.labels.le);
      m.set(le, (m.get(le) ?? 0) + s.value);
    }
    return m;
  };
  const now = get(samples);
  const then = before ? get(before) : new Map<number, number>();
  return [...now.entries()].map(([le, c]) => [le, c - (then.get(le) ?? 0)] as [number, number]).sort((a, b) => a[0] - b[0]);
}

/** histogram_quantile as Prometheus computes it (linear inside a bucket). */
export function histQuantile(b: [number, number][], q: number): number | null {
  if (b.length === 0) return null;
  const total = b[b.length - 1]![1];
  if (total <= 0) return null;
  const rank = q * total;
  let prevLe = 0;
  let prevC = 0;
  for (const [le, c] of b) {
    if (c >= rank) {
      if (le === Infinity) return prevLe;
      return prevLe + ((le - prevLe) * (rank - prevC)) / Math.max(c - prevC, 1e-9);
    }
    prevLe = le;
    prevC = c;
  }
  return prevLe;
}

/** RSS in MiB and CPU seconds (user+system) of a process, from /proc. */
export function procSample(pid: number): { rssMiB: number; cpuSeconds: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN);
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state); utime is field 14, stime 15.
  const ticks = Number(fields[11]) + Number(fields[12]);
  return { rssMiB: Math.round((rssKb / 1024) * 10) / 10, cpuSeconds: ticks / 100 };
}

export function memAvailableMiB(): number {
  const m = /MemAvailable:\s+(\d+)/.exec(readFileSync('/proc/meminfo', 'utf8'));
  return Math.round(Number(m?.[1] ?? 0) / 1024);
}

/** What the helpers met and went on past (a cleanup that failed, a pod that would not go): run.ts
 * reports each with the run's errors, so the run exits non-zero. */
export const problems: string[] = [];

const message = (err: unknown) => (err instanceof Error ? err.message : String(err));

/** A rejection handler that records what failed, and lets the run go on. */
export function noted(what: string): (err: unknown) => undefined {
  return (err) => {
    problems.push(`${what}: ${message(err)}`);
    return undefined;
  };
}

/** A rejection handler for a read or delete of an object that may be gone already: a 404 is that
 * answer; anything else is noted. */
export function unlessGone(what: string): (err: unknown) => undefined {
  return (err) => ((err as { code?: number }).code === 404 ? undefined : noted(what)(err));
}
