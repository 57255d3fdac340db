// Benchmarks of redis-replication-operator on the local cluster (brought up if it is not running).
// `npm run bench [-- [--quick] [--only=failover,upgrade,reads,ready,fresh,scale]]`
// Prints a table and writes bench/results/latest.json. Reports numbers, never fails on slow ones;
// exits non-zero when a section could not run (its error is in the table and the JSON).
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { dirname, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { parseProm, waitFor, type Sample } from '../hack/lib.js';
import { createNamespace, freezePod, thawPod } from '../test/e2e/support/cluster.js';
import { api, createRR, getRR, installCrd, redisCommand, startOperator, type OperatorProcess } from '../test/e2e/support/operator.js';
import { GROUP, PLURAL, VERSION } from '../src/api/schema.js';
import { buckets, byLabel, figure, histQuantile, memAvailableMiB, noted, problems, procSample, sumOf, unlessGone, type Figure } from './lib.js';
import { up } from '../hack/local-cluster/lifecycle.js';
import { FAULTS, PERSISTENCE, THRESHOLDS, operatorMatrix, operatorResource, sentinelMatrix, trial, type Fault, type System, type TrialResult, type TrialsPerFault } from './failover.js';
import { createPlainPods, deletePods, plainRamp, replicaLinkUp, waitPlainRunning } from './plain.js';
import { readScaling, type ReadResult } from './reads.js';
import { upgradeInPlace, upgradeOperator, type UpgradeResult } from './upgrade.js';

const SECTIONS = ['failover', 'upgrade', 'reads', 'ready', 'fresh', 'ramp', 'scale'];
const USAGE = `Usage: npm run bench [-- [--quick] [--only=SECTION,...] [--scale-steps=N,...] [--scale-replicas=N] [--out=FILE]]

  --quick            one trial of each and smaller steps (about 25 min instead of 60)
  --only=LIST        some sections only, comma-separated: ${SECTIONS.join(', ')}
  --scale-steps=LIST resource counts the scale section grows to (default 100,500,1000; quick 20)
  --scale-replicas=N replicas of each of those resources (default 1: two pods each; 0: the primary only)
  --out=FILE         where the results go (default bench/results/latest.json, the committed run)
  -h, --help         this text`;

function parseCli(argv: string[]): { quick: boolean; only: Set<string>; scaleSteps: number[] | undefined; scaleReplicas: number; out: string | undefined } {
  try {
    const { values } = parseArgs({
      args: argv,
      options: {
        quick: { type: 'boolean', default: false },
        only: { type: 'string', default: SECTIONS.join(',') },
        'scale-steps': { type: 'string' },
        'scale-replicas': { type: 'string', default: '1' },
        out: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
    if (values.help) {
      console.log(USAGE);
      process.exit(0);
    }
    const only = values.only.split(',').filter((s) => s !== '');
    const unknown = only.filter((s) => !SECTIONS.includes(s));
    if (unknown.length > 0) throw new Error(`unknown section ${unknown.join(', ')}`);
    const scaleSteps = values['scale-steps']?.split(',').map(Number);
    if (scaleSteps?.some((n, i) => !Number.isInteger(n) || n < 1 || (i > 0 && n <= scaleSteps[i - 1]!))) throw new Error('--scale-steps: increasing positive integers');
    const scaleReplicas = Number(values['scale-replicas']);
    if (!Number.isInteger(scaleReplicas) || scaleReplicas < 0) throw new Error('--scale-replicas: a non-negative integer');
    return { quick: values.quick, only: new Set(only), scaleSteps, scaleReplicas, out: values.out };
  } catch (e) {
    console.error(`bench: ${(e as Error).message}\n\n${USAGE}`);
    process.exit(2);
  }
}

const { quick: QUICK, only: ONLY, scaleSteps: STEPS, scaleReplicas: SCALE_REPLICAS, out: OUT_FILE } = parseCli(process.argv.slice(2));
const N_READY = QUICK ? 1 : 3;
const N_FRESH = 3;
const SCALE_STEPS = STEPS ?? (QUICK ? [20] : [100, 500, 1000]);
const IDLE_MS = QUICK ? 30_000 : 60_000;
/** No pass for this long before the idle window opens: longer than the 30 s resync that follows a
 * pass that wrote something. */
const QUIET_MS = 35_000;
const METRICS_PORT_MAIN = 19_471;
const METRICS_PORT_SCALE = 19_472;
const LABEL_READ = 'redis.replication.dev/read';

const results: {
  startedAt: string; finishedAt?: string; quick: boolean; host: Record<string, unknown>;
  figures: Record<string, Figure>; notes: string[]; failover: Record<string, unknown>[]; upgrade: Record<string, UpgradeResult>; reads: ReadResult[];
  scale: Record<string, unknown>[]; scaleFailover: Record<string, unknown>[]; errors: string[];
} = {
  startedAt: new Date().toISOString(), quick: QUICK,
  host: { cpus: cpus().length, memGiB: Math.round(totalmem() / 2 ** 30), node: process.version },
  figures: {}, notes: [], failover: [], upgrade: {}, reads: [], scale: [], scaleFailover: [], errors: [],
};
const OUT = resolve(OUT_FILE ?? resolve(import.meta.dirname, 'results', 'latest.json'));
const save = () => {
  mkdirSync(dirname(OUT), { recursive: true });
  writeFileSync(OUT, JSON.stringify(results, null, 2) + '\n');
};
const log = (...a: unknown[]) => console.error(`[bench ${new Date().toISOString().slice(11, 19)}]`, ...a);
const put = (key: string, values: number[], unit: string) => {
  results.figures[key] = figure(values, unit);
  save();
};

// ---------------------------------------------------------------- cleanup
const cleanups: (() => Promise<unknown>)[] = [];
let cleaning = false;
async function cleanupAll() {
  if (cleaning) return;
  cleaning = true;
  for (const c of cleanups.reverse()) await c().catch(noted('cleanup'));
}
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => { log(`${sig}: cleaning up`); void cleanupAll().then(() => process.exit(130)); });

const custom = () => api().custom;
async function deleteRR(ns: string, name: string) {
  await custom().deleteNamespacedCustomObject({ group: GROUP, version: VERSION, plural: PLURAL, namespace: ns, name }).catch(unlessGone(`deleting ${ns}/${name}`));
}
async function waitNoPods(ns: string, selector: string, timeoutMs = 120_000) {
  await waitFor(async () => (await api().core.listNamespacedPod({ namespace: ns, labelSelector: selector })).items.length === 0,
    { timeoutMs, intervalMs: 500, what: `pods ${selector} gone` }).catch(noted(`waiting for pods ${ns} ${selector} to go`));
}
async function rrReady(ns: string, name: string): Promise<boolean> {
  const rr = await getRR(ns, name);
  const ready = rr.status?.conditions?.find((c) => c.type === 'Ready');
  return rr.status?.phase === 'Ready' && ready?.status === 'True' && rr.status.observedGeneration === rr.metadata.generation
    && !(rr.status as { targetPrimary?: unknown }).targetPrimary;
}
async function waitRRReady(ns: string, name: string, timeoutMs = 180_000, intervalMs = 100) {
  await waitFor(() => rrReady(ns, name), { timeoutMs, intervalMs, what: `${ns}/${name} Ready` });
}
/** kube-proxy's metrics on the local cluster (hack/local-cluster/control-plane.ts). */
const KUBE_PROXY_METRICS_PORT = 10249;

async function scrape(port: number): Promise<Sample[]> {
  const r = await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(5000) });
  return parseProm(await r.text());
}

// ---------------------------------------------------------------- 1. failover matrix
/** Trials per fault, without and with an append-only file (the same for both); node-down trials take
 * about a minute each. A kill varies the most (what restarts, and when, decides it): it has the most
 * trials; freeze, partition and node-down varied by a few tenths of a second in earlier runs. */
const TRIALS: TrialsPerFault = QUICK ? { kill: 1, freeze: 1, partition: 1, 'node-down': 1 } : { kill: 3, freeze: 1, partition: 1, 'node-down': 1 };

async function failoverMatrix(nsOp: string, nsPlain: string, opLog: (() => string) | undefined) {
  for (const threshold of THRESHOLDS) {
    for (const persistence of PERSISTENCE) {
      for (const [system, runMatrix, ns] of [['operator', (run: Parameters<typeof operatorMatrix>[0]) => operatorMatrix(run, opLog), nsOp], ['sentinel', sentinelMatrix, nsPlain]] as const) {
        const rows: TrialResult[] = [];
        const label = `failover ${system} ${threshold.key} ${persistence}`;
        await runMatrix({
          ns, threshold, persistence, trials: TRIALS,
          report: (r) => {
            rows.push(r);
            log(`${label} ${r.fault}: ${r.recovered ? `writes back after ${r.seconds}s` : `writes NOT back within the limit`}${r.wiped ? ' onto a WIPED master' : ''}, lost ${r.lost} of ${r.acked}, longest gap ${r.longestGapMs} ms, master moved ${r.masterMoved}${r.events ? `, events ${JSON.stringify(r.events)}` : ''}`);
            // A trial that never recovered is a failure of the system under test: the run says so and exits 1.
            if (!r.recovered) results.errors.push(`${label} ${r.fault}: writes not accepted again within the limit`);
            const of = rows.filter((x) => x.fault === r.fault);
            const key = `failover.${r.fault}.${threshold.key}.${persistence}.${system}`;
            // Seconds of real recoveries only: a recovery onto a wiped master is data loss, counted apart.
            put(`${key}.seconds`, of.flatMap((x) => (x.recovered && !x.wiped && x.seconds !== null ? [x.seconds] : [])), 's');
            put(`${key}.lostWrites`, of.map((x) => x.lost), 'writes');
            put(`${key}.wipedTrials`, [of.filter((x) => x.wiped).length], 'trials');
            put(`${key}.neverRecoveredTrials`, [of.filter((x) => !x.recovered).length], 'trials');
            results.failover.push({ system, threshold: threshold.key, ...(system === 'operator' ? { primaryDownSeconds: threshold.primaryDownSeconds } : { downAfterMs: threshold.downAfterMs }), ...r });
            save();
          },
          failed: (what) => {
            log(`${label}: ${what}`);
            results.errors.push(`${label}: ${what}`);
          },
        });
      }
    }
  }
}

// ---------------------------------------------------------------- 1b. image upgrade, rolling update against in-place restarts
async function upgrades(nsOp: string, nsPlain: string) {
  const ours = await upgradeOperator(nsOp);
  log(`upgrade, this operator: ${JSON.stringify(ours)}`);
  results.upgrade['operatorRollingUpdate'] = ours;
  save();
  const inPlace = await upgradeInPlace(nsPlain);
  log(`upgrade, in-place rolling restart (StatefulSet): ${JSON.stringify(inPlace)}`);
  results.upgrade['inPlaceRollingRestart'] = inPlace;
}

// ---------------------------------------------------------------- 1c. read scaling
async function reads(ns: string) {
  for (const replicas of [1, 2, 4]) {
    const r = await readScaling(ns, replicas, QUICK ? 50_000 : 200_000);
    log(`reads through <name>-read, ${replicas} replicas: ${r.requestsPerSecond} GET/s, per replica ${JSON.stringify(r.perReplica)}`);
    results.reads.push(r);
    save();
  }
}

// ---------------------------------------------------------------- 2. time to Ready
const TOPOLOGIES = [
  { key: '1+2', replicas: 2, cascade: [] as number[] },
  { key: '1+3+6', replicas: 3, cascade: [2] },
  { key: '1+10', replicas: 10, cascade: [] as number[] },
];

/** parent index of every pod of a plan: [0 = primary], tier by tier. */
function planParents(replicas: number, cascade: number[]): number[] {
  const parents: number[] = [-1];
  let tier: number[] = [];
  for (let i = 0; i < replicas; i++) { parents.push(0); tier.push(parents.length - 1); }
  for (const per of cascade) {
    const next: number[] = [];
    for (const p of tier) for (let j = 0; j < per; j++) { parents.push(p); next.push(parents.length - 1); }
    tier = next;
  }
  return parents;
}

async function timeToReady(nsOp: string, nsPlain: string) {
  for (const topo of TOPOLOGIES) {
    const ours: number[] = [];
    const plain: number[] = [];
    for (let t = 0; t < N_READY; t++) {
      const name = `ready-${topo.key.replace(/\+/g, '-')}-${t}`;
      const spec: Record<string, unknown> = { replicas: topo.replicas };
      if (topo.cascade.length) spec.cascade = topo.cascade.map((n) => ({ replicasPerParent: n }));
      const t0 = Date.now();
      await createRR(nsOp, name, spec);
      const ok = await waitRRReady(nsOp, name, 240_000, 100).then(() => true, (e) => { results.errors.push(String(e)); return false; });
      const dOurs = ok ? (Date.now() - t0) / 1000 : NaN;
      await deleteRR(nsOp, name);
      await waitNoPods(nsOp, `app.kubernetes.io/instance=${name}`);

      // Lower bound: the same pods and REPLICAOFs, by a plain script.
      const parents = planParents(topo.replicas, topo.cascade);
      const names = parents.map((_, i) => `lb-${topo.key.replace(/\+/g, '-')}-${t}-${i}`);
      const t1 = Date.now();
      // Same diskless-sync delay as the operator's pods (src/plan/specs.ts), else Redis' default 5 s delay dominates.
      await createPlainPods(nsPlain, names, 'lowerbound', ['--repl-diskless-sync-delay', '1']);
      const ips = await waitPlainRunning(nsPlain, names, 240_000);
      await Promise.all(parents.map((p, i) => (p < 0 ? undefined : redisCommand(ips.get(names[i]!)!, ['REPLICAOF', ips.get(names[p]!)!, '6379']))));
      await waitFor(async () => (await Promise.all(names.slice(1).map((n) => replicaLinkUp(ips.get(n)!)))).every(Boolean),
        { timeoutMs: 120_000, intervalMs: 50, what: 'lower bound linked' });
      const dPlain = (Date.now() - t1) / 1000;
      await deletePods(nsPlain, names);
      log(`time to Ready ${topo.key} trial ${t + 1}/${N_READY}: operator ${dOurs}s, plain script ${dPlain}s`);
      ours.push(dOurs); plain.push(dPlain);
      put(`ready.${topo.key}.operator.seconds`, ours, 's');
      put(`ready.${topo.key}.plainScript.seconds`, plain, 's');
    }
  }
}

// ---------------------------------------------------------------- 3. status freshness
async function freshness(ns: string) {
  const name = 'fresh';
  await createRR(ns, name, { replicas: 2 });
  await waitRRReady(ns, name);
  const statusOff: number[] = [], labelOff: number[] = [], statusOn: number[] = [], labelOn: number[] = [];
  const maxLag = ((await getRR(ns, name)).spec as { readService?: { maxLagSeconds?: number } } | undefined)?.readService?.maxLagSeconds ?? 5;
  for (let t = 0; t < N_FRESH; t++) {
    const rr = await getRR(ns, name);
    const replica = rr.status!.nodes!.find((n) => n.role === 'replica' && n.read)!.name;
    const watch = async (want: boolean) => {
      const start = Date.now();
      let s: number | undefined, l: number | undefined;
      await waitFor(async () => {
        const [r, pod] = await Promise.all([getRR(ns, name), api().core.readNamespacedPod({ namespace: ns, name: replica })]);
        const node = r.status?.nodes?.find((n) => n.name === replica);
        if (s === undefined && node && Boolean(node.read) === want) s = Date.now();
        if (l === undefined && pod.metadata?.labels?.[LABEL_READ] === String(want)) l = Date.now();
        return s !== undefined && l !== undefined;
      }, { timeoutMs: 60_000, intervalMs: 100, what: `${replica} read=${want}` }).catch((e) => results.errors.push(String(e)));
      return [s === undefined ? NaN : (s - start) / 1000, l === undefined ? NaN : (l - start) / 1000];
    };
    await freezePod(ns, replica);
    let off: number[];
    try {
      off = await watch(false);
    } finally {
      await thawPod(ns, replica);
    }
    const on = await watch(true);
    log(`freshness trial ${t + 1}/${N_FRESH}: ${replica} frozen -> status ${off[0]}s, label ${off[1]}s; thawed -> status ${on[0]}s, label ${on[1]}s`);
    statusOff.push(off[0]!); labelOff.push(off[1]!); statusOn.push(on[0]!); labelOn.push(on[1]!);
    put('freshness.freeze.statusNotRead.seconds', statusOff, 's');
    put('freshness.freeze.labelReadFalse.seconds', labelOff, 's');
    put('freshness.thaw.statusRead.seconds', statusOn, 's');
    put('freshness.thaw.labelReadTrue.seconds', labelOn, 's');
    await waitRRReady(ns, name, 60_000, 250).catch((e) => results.errors.push(String(e)));
  }
  results.notes.push('time to Ready lower bound: plain pods with --repl-diskless-sync-delay 1 (as the operator sets), REPLICAOF all at once, until every master_link_status:up');
  results.notes.push(`freshness: readService.maxLagSeconds ${maxLag} (default); a frozen replica stops answering the operator's checks`);
  await deleteRR(ns, name);
}

// ---------------------------------------------------------------- 4+5. scale and cost
async function runningPods(ns: string): Promise<number> {
  const list = await api().core.listNamespacedPod({ namespace: ns });
  return list.items.filter((p) => p.status?.phase === 'Running').length;
}

const mib = (bytes: number) => Math.round((bytes / 2 ** 20) * 10) / 10;

/** Resources the scale section creates at once (and the plain-script bound of its ramp too). */
const RAMP_BATCH = 20;

/** Seconds the plain-script bound took to ramp the first scale step, once measured (section ramp). */
let plainRampSeconds: number | undefined;

async function rampBound() {
  const n = SCALE_STEPS[0]!;
  const ns = await createNamespace('bench-ramp');
  try {
    const names = Array.from({ length: n }, (_, i) => `p${String(i).padStart(3, '0')}`);
    plainRampSeconds = await plainRamp(ns.name, names, RAMP_BATCH, QUICK ? 300_000 : 900_000);
    put(`ramp.${n}.plainScript.seconds`, [plainRampSeconds], 's');
    log(`ramp bound: ${n} plain resources linked in ${plainRampSeconds}s`);
  } finally {
    await ns.cleanup();
    await waitNoPods(ns.name, '', 300_000);
  }
}

/** Failover trials of one resource beside the scale section's others (SIGKILL and freeze of its
 * primary, at the default threshold, without persistence). */
const SCALE_FAILOVER_FAULTS: readonly Fault[] = ['kill', 'freeze'];
const SCALE_FAILOVER_TRIALS = QUICK ? 1 : 2;
/** The default threshold (primaryDownSeconds 3). */
const SCALE_FAILOVER_THRESHOLD = THRESHOLDS[1];

/** The failover trials of one condition (`alone`, `creating100`, `idle500`, ...), as figures
 * `scaleFailover.<fault>.<condition>.seconds`, `.decidedSeconds` and `.routedSeconds`. */
async function scaleFailover(ns: string, system: System, condition: string, others: number): Promise<void> {
  for (const fault of SCALE_FAILOVER_FAULTS) {
    const rows: TrialResult[] = [];
    const proxyBefore = await scrape(KUBE_PROXY_METRICS_PORT);
    for (let t = 0; t < SCALE_FAILOVER_TRIALS; t++) {
      try {
        const r = await trial(ns, system, fault, 'none', `sf-${condition}-${fault}-${t}`);
        rows.push(r);
        results.scaleFailover.push({ condition, others, primaryDownSeconds: SCALE_FAILOVER_THRESHOLD.primaryDownSeconds, ...r });
        log(`scale failover ${condition} ${fault}: ${r.recovered ? `writes back after ${r.seconds}s (decided at ${r.decidedSeconds}s, routed at ${r.routedSeconds}s)` : 'writes NOT back within the limit'}, lost ${r.lost} of ${r.acked}`);
        if (!r.recovered) results.errors.push(`scale failover ${condition} ${fault}: writes not accepted again within the limit`);
        if (r.lost > 0) results.errors.push(`scale failover ${condition} ${fault}: ${r.lost} acknowledged writes lost`);
      } catch (err) {
        results.errors.push(`scale failover ${condition} ${fault} trial ${t + 1}: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    const key = `scaleFailover.${fault}.${condition}`;
    put(`${key}.seconds`, rows.flatMap((x) => (x.recovered && x.seconds !== null ? [x.seconds] : [])), 's');
    put(`${key}.decidedSeconds`, rows.flatMap((x) => (x.decidedSeconds != null ? [x.decidedSeconds] : [])), 's');
    put(`${key}.routedSeconds`, rows.flatMap((x) => (x.routedSeconds != null ? [x.routedSeconds] : [])), 's');
    // What the routes cost after the endpoints moved: kube-proxy's rewrite of its rules, with every Service of the others in them.
    const proxyAfter = await scrape(KUBE_PROXY_METRICS_PORT);
    const delta = (name: string) => sumOf(proxyAfter, name, (l) => l['ip_family'] === 'IPv4') - sumOf(proxyBefore, name, (l) => l['ip_family'] === 'IPv4');
    const syncs = delta('kubeproxy_sync_proxy_rules_duration_seconds_count');
    if (syncs > 0) put(`${key}.kubeProxySyncSeconds`, [delta('kubeproxy_sync_proxy_rules_duration_seconds_sum') / syncs], 's');
    save();
  }
}

async function scale(ns: string, op: OperatorProcess) {
  const pid = op.child.pid!;
  await waitFor(() => scrape(METRICS_PORT_SCALE).then(() => true), { timeoutMs: 60_000, what: 'operator metrics' });
  // One resource to fail over beside the others: alone first, then while the first step is being
  // created, then after each step's idle window.
  const fo = await operatorResource(ns, 'fo', SCALE_FAILOVER_THRESHOLD, 'none', op.output);
  await scaleFailover(ns, fo.system, 'alone', 0);
  let created = 0;
  // MiB each redis pod took, measured on the previous step (first estimate: 12, with margin).
  let mibPerPod = 12;
  for (const target of SCALE_STEPS) {
    const add = target - created;
    const needMiB = add * (SCALE_REPLICAS + 1) * mibPerPod;
    const avail = memAvailableMiB();
    if (avail < needMiB * 1.5) {
      results.notes.push(`scale ${target}: skipped, MemAvailable ${avail} MiB < 1.5 x ${needMiB} MiB estimated (${mibPerPod} MiB per pod)`);
      log(results.notes[results.notes.length - 1]);
      break;
    }
  const m0 = await scrape(METRICS_PORT_SCALE);
    const p0 = procSample(pid);
    const t0 = Date.now();
    const names = Array.from({ length: add }, (_, i) => `s${String(created + i).padStart(3, '0')}`);
    const fromEmpty = created === 0;
    // The first step's ramp is also the "being created" condition of the failover trials.
    const creating = (async () => {
      for (let i = 0; i < names.length; i += RAMP_BATCH) await Promise.all(names.slice(i, i + RAMP_BATCH).map((n) => createRR(ns, n, { replicas: SCALE_REPLICAS })));
    })();
    const during = fromEmpty ? scaleFailover(ns, fo.system, `creating${add}`, add) : Promise.resolve();
    await creating;
    created = target;
    let ready = 0;
    let maxRss = 0;
    const readyOk = await waitFor(async () => {
      maxRss = Math.max(maxRss, procSample(pid).rssMiB);
      const list = (await custom().listNamespacedCustomObject({ group: GROUP, version: VERSION, plural: PLURAL, namespace: ns })) as { items: { metadata: { name: string }; status?: { phase?: string } }[] };
      ready = list.items.filter((i) => i.metadata.name.startsWith('s') && i.status?.phase === 'Ready').length;
      return ready >= target;
    }, { timeoutMs: QUICK ? 300_000 : 900_000, intervalMs: 2000, what: `${target} Ready` }).then(() => true, (e) => { results.errors.push(String(e)); return false; });
    const rampS = (Date.now() - t0) / 1000;
    await during;
    mibPerPod = Math.max(4, Math.ceil((avail - memAvailableMiB()) / (add * (SCALE_REPLICAS + 1))));
    const p1 = procSample(pid);
    const rampLoad = Math.round(loadavg()[0]! * 10) / 10;
    const m1 = await scrape(METRICS_PORT_SCALE);
    log(`scale ${target}: ${add} new Ready in ${rampS}s (${ready}/${target} Ready), RSS ${p1.rssMiB} MiB, CPU ${(p1.cpuSeconds - p0.cpuSeconds).toFixed(1)} s`);
    // Idle window: once no pass has run for QUIET_MS (longer than the resync a pass that wrote
    // asks for, so the ramp's follow-ups are over), bounded: a step that never goes quiet is measured
    // anyway and says so.
    const settleT0 = Date.now();
    let lastRec = -1;
    let quietSince = Date.now();
    const settled = await waitFor(async () => {
      const rec = sumOf(await scrape(METRICS_PORT_SCALE), 'rro_reconcile_duration_seconds_count');
      if (rec !== lastRec) quietSince = Date.now();
      lastRec = rec;
      return Date.now() - quietSince >= QUIET_MS;
    }, { timeoutMs: QUICK ? 90_000 : 240_000, intervalMs: 2000, what: `${target}: no pass for ${QUIET_MS / 1000} s` }).then(() => true, () => false);
    const settleSeconds = Math.round((Date.now() - settleT0) / 100) / 10;
    if (!settled) results.notes.push(`scale ${target}: passes still ran ${settleSeconds} s after the ramp ended; the idle window was measured anyway`);
    const i0 = await scrape(METRICS_PORT_SCALE);
    const q0 = procSample(pid);
    await sleep(IDLE_MS);
    const i1 = await scrape(METRICS_PORT_SCALE);
    const q1 = procSample(pid);
    const pods = await runningPods(ns);
    const perMin = 60_000 / IDLE_MS;
    // API requests between two scrapes by "verb resource" (which objects it read or wrote), and by verb.
    const calls = (a: Sample[], b: Sample[]) => {
      const key = (x: Sample) => `${x.labels.verb ?? ''} ${x.labels.resource ?? ''}`;
      const before = new Map(a.filter((x) => x.name === 'rro_api_requests_total').map((x) => [key(x), x.value]));
      return Object.fromEntries(b.filter((x) => x.name === 'rro_api_requests_total').map((x): [string, number] => [key(x), x.value - (before.get(key(x)) ?? 0)]).filter(([, v]) => v !== 0));
    };
    const byVerb = (c: Record<string, number>) => {
      const r: Record<string, number> = {};
      for (const [k, v] of Object.entries(c)) {
        const verb = k.split(' ')[0]!;
        r[verb] = (r[verb] ?? 0) + v;
      }
      return r;
    };
    const reconciles = (a: Sample[], b: Sample[]) => sumOf(b, 'rro_reconcile_duration_seconds_count') - sumOf(a, 'rro_reconcile_duration_seconds_count');
    const idleCalls = calls(i0, i1);
    const rampVerbs = byVerb(calls(m0, m1)), idleVerbs = byVerb(idleCalls);
    const rampRec = reconciles(m0, m1), idleRec = reconciles(i0, i1);
    const writes = (v: Record<string, number>) => ['post', 'put', 'patch', 'delete'].reduce((a, k) => a + (v[k] ?? 0), 0);
    const total = (v: Record<string, number>) => Object.values(v).reduce((a, b) => a + b, 0);
    const idleConn = sumOf(i1, 'rro_redis_connections_opened_total') - sumOf(i0, 'rro_redis_connections_opened_total');
    // INFO sent while idle, by the prober and by passes (the prober: one per pod per health interval).
    const idleInfo = (source: string) => (byLabel(i1, 'rro_redis_info_total', 'source')[source] ?? 0) - (byLabel(i0, 'rro_redis_info_total', 'source')[source] ?? 0);
    const row = {
      resources: target, replicasEach: SCALE_REPLICAS, redisPods: pods, allReady: readyOk, newResources: add, secondsUntilAllReady: rampS,
      // The first step against the plain-script bound of the same ramp (section ramp), when it ran.
      ...(fromEmpty && plainRampSeconds !== undefined ? { plainScriptSeconds: plainRampSeconds, ratioToPlainScript: Math.round((rampS / plainRampSeconds) * 100) / 100 } : {}),
      operatorRssMiB: p1.rssMiB, operatorMaxRssMiB: Math.max(maxRss, p1.rssMiB),
      // Where the RSS goes: V8's heap (used of total) and memory outside it (buffers, sockets).
      heapUsedMiB: mib(sumOf(m1, 'nodejs_heap_size_used_bytes')), heapTotalMiB: mib(sumOf(m1, 'nodejs_heap_size_total_bytes')),
      externalMiB: mib(sumOf(m1, 'nodejs_external_memory_bytes')),
      rampCpuSeconds: Math.round((p1.cpuSeconds - p0.cpuSeconds) * 10) / 10,
      idleCpuPercentOfOneCore: Math.round(((q1.cpuSeconds - q0.cpuSeconds) / (IDLE_MS / 1000)) * 1000) / 10,
      idleApiRequestsPerMinute: Object.fromEntries(Object.entries(idleVerbs).map(([k, v]) => [k, Math.round(v * perMin * 10) / 10])),
      idleApiWritesPerMinute: writes(idleVerbs) * perMin,
      idleApiCalls: idleCalls,
      settled, secondsFromRampEndToIdleWindow: settleSeconds,
      idleReconcilesPerMinute: Math.round(idleRec * perMin * 10) / 10,
      idleRedisConnectionsPerMinute: Math.round(idleConn * perMin * 10) / 10,
      idleInfoPerSecond: { probe: Math.round((idleInfo('probe') / (IDLE_MS / 1000)) * 10) / 10, pass: Math.round((idleInfo('pass') / (IDLE_MS / 1000)) * 10) / 10 },
      // Why the prober asked for passes while idle (0 expected).
      idleProbeEnqueues: Object.fromEntries(Object.entries(byLabel(i1, 'rro_probe_enqueues_total', 'reason')).map(([k, v]) => [k, v - (byLabel(i0, 'rro_probe_enqueues_total', 'reason')[k] ?? 0)]).filter(([, v]) => v !== 0)),
      rampApiRequests: rampVerbs, rampReconciles: rampRec,
      apiCallsPerReconcileRamp: rampRec ? Math.round((total(rampVerbs) / rampRec) * 100) / 100 : null,
      apiCallsPerReconcileIdle: idleRec ? Math.round((total(idleVerbs) / idleRec) * 100) / 100 : null,
      redisConnectionsPerReconcileIdle: idleRec ? Math.round((idleConn / idleRec) * 100) / 100 : null,
      workqueueLatencyRamp: { p50: histQuantile(buckets(m1, 'rro_workqueue_latency_seconds', m0), 0.5), p99: histQuantile(buckets(m1, 'rro_workqueue_latency_seconds', m0), 0.99) },
      // A key waits about queue length x reconcile time / workers: the reconcile time during the ramp.
      reconcileSecondsRamp: { p50: histQuantile(buckets(m1, 'rro_reconcile_duration_seconds', m0), 0.5), p99: histQuantile(buckets(m1, 'rro_reconcile_duration_seconds', m0), 0.99) },
      workqueueLatencyIdle: { p50: histQuantile(buckets(i1, 'rro_workqueue_latency_seconds', i0), 0.5), p99: histQuantile(buckets(i1, 'rro_workqueue_latency_seconds', i0), 0.99) },
      memAvailableMiB: memAvailableMiB(),
      // The machine itself: on 2 cores the local cluster starting hundreds of pods can saturate it.
      loadAverage1mAtRampEnd: rampLoad,
    };
    results.scale.push(row);
    if (row.idleApiWritesPerMinute > 0) results.notes.push(`scale ${target}: the operator WRITES to the API server while idle (${row.idleApiWritesPerMinute}/min: ${JSON.stringify(row.idleApiRequestsPerMinute)}); expected 0`);
    save();
    log(`scale ${target} idle: ${JSON.stringify(row)}`);
    await scaleFailover(ns, fo.system, `idle${target}`, target);
  }
}

// ---------------------------------------------------------------- table
function printTable() {
  const f = results.figures;
  const fmt = (x: number | null | undefined) => (x === null || x === undefined || Number.isNaN(x) ? '-' : String(Math.round(x * 1000) / 1000));
  const rows = Object.entries(f).map(([k, v]) => [k, v.unit, String(v.trials), fmt(v.median), fmt(v.p95), fmt(v.min), fmt(v.max)]);
  const head = ['figure', 'unit', 'trials', 'median', 'p95', 'min', 'max'];
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((c, i) => (i < 2 ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join('  ');
  const out = [line(head), w.map((n) => '-'.repeat(n)).join('  '), ...rows.map(line)];
  out.push('', 'failover matrix (median seconds until writes are accepted again, over real recoveries; lost = acknowledged writes lost, summed over trials;',
    '  wiped = trials whose writes came back onto an empty master (data loss, not a recovery); never = trials whose writes never came back)');
  for (const threshold of THRESHOLDS) {
    for (const persistence of PERSISTENCE) {
      for (const fault of FAULTS) {
        const key = (system: string) => `failover.${fault}.${threshold.key}.${persistence}.${system}`;
        const sum = (k: string) => f[k]?.values.reduce((a, b) => a + b, 0) ?? '-';
        const cell = (system: string) => `${fmt(f[`${key(system)}.seconds`]?.median).padStart(6)} s (lost ${sum(`${key(system)}.lostWrites`)}, wiped ${sum(`${key(system)}.wipedTrials`)}, never ${sum(`${key(system)}.neverRecoveredTrials`)})`;
        const ours = f[`${key('operator')}.seconds`];
        const sentinel = f[`${key('sentinel')}.seconds`];
        const ratio = ours?.median && sentinel?.median ? fmt(ours.median / sentinel.median) : '-';
        out.push(`  ${threshold.key.padEnd(8)} ${persistence.padEnd(5)} ${fault.padEnd(10)} operator ${cell('operator')}   sentinel ${cell('sentinel')}   ratio ${ratio}`);
      }
    }
  }
  for (const [k, v] of Object.entries(results.upgrade)) out.push(`upgrade ${k}: ${JSON.stringify(v)}`);
  for (const r of results.reads) out.push(`reads ${r.replicas} replicas: ${r.requestsPerSecond} GET/s, per replica ${JSON.stringify(r.perReplica)}`);
  if (results.scale.length) {
    out.push('', 'scale  pods  readyS  rssMiB  idleCPU%  idleAPI/min (by verb)                 idleWrites/min  reconciles/min  api/rec(ramp)  api/rec(idle)  redisConn/min  conn/rec  wq p50/p99 ramp (s)');
    for (const r of results.scale as Record<string, any>[]) {
      out.push([String(r.resources).padEnd(5), String(r.redisPods).padStart(4), String(r.secondsUntilAllReady).padStart(7), String(r.operatorRssMiB).padStart(7), String(r.idleCpuPercentOfOneCore).padStart(9),
        JSON.stringify(r.idleApiRequestsPerMinute).padEnd(38), String(r.idleApiWritesPerMinute).padStart(14), String(r.idleReconcilesPerMinute).padStart(15),
        String(r.apiCallsPerReconcileRamp).padStart(14), String(r.apiCallsPerReconcileIdle).padStart(14), String(r.idleRedisConnectionsPerMinute).padStart(14), String(r.redisConnectionsPerReconcileIdle).padStart(9),
        `${fmt(r.workqueueLatencyRamp.p50)}/${fmt(r.workqueueLatencyRamp.p99)}`.padStart(12)].join('  '));
    }
  }
  for (const n of results.notes) out.push(`note: ${n}`);
  for (const e of results.errors) out.push(`error: ${e}`);
  console.log(out.join('\n'));
}

// ---------------------------------------------------------------- main
async function main() {
  await up();
  await installCrd();
  const main = await createNamespace('bench-op');
  cleanups.push(main.cleanup);
  const plain = await createNamespace('bench-plain');
  cleanups.push(plain.cleanup);
  log(`namespaces ${main.name} (operator) ${plain.name} (no operator); quick=${QUICK}`);
  const needOp = ['failover', 'upgrade', 'reads', 'ready', 'fresh'].some((s) => ONLY.has(s));
  let op: OperatorProcess | undefined;
  if (needOp) {
    op = startOperator({ WATCH_NAMESPACES: main.name, METRICS_PORT: String(METRICS_PORT_MAIN), LOG_LEVEL: 'warn' });
    const o = op;
    cleanups.push(() => o.stop());
  }
  const section = async (key: string, fn: () => Promise<void>) => {
    if (!ONLY.has(key)) return;
    log(`== ${key}`);
    try {
      await fn();
    } catch (e) {
      results.errors.push(`${key}: ${e instanceof Error ? e.message : String(e)}`);
      log(`${key} failed:`, e);
    }
    save();
  };
  await section('failover', () => failoverMatrix(main.name, plain.name, op?.output));
  await section('upgrade', () => upgrades(main.name, plain.name));
  await section('reads', () => reads(main.name));
  await section('ready', () => timeToReady(main.name, plain.name));
  await section('fresh', () => freshness(main.name));
  if (op) await op.stop();
  await section('ramp', rampBound);
  if (ONLY.has('scale')) {
    const sc = await createNamespace('bench-scale');
    cleanups.push(async () => { await sc.cleanup(); await waitNoPods(sc.name, '', 300_000); });
    // Memory and queue figures are of the operator as the image runs it: compiled JavaScript, no
    // TypeScript loader (tsx alone adds about 70 MiB of RSS).
    log('building the operator (npm run build) for the scale section');
    execFileSync('npm', ['run', '--silent', 'build'], { stdio: 'inherit' });
    const sop = startOperator({ WATCH_NAMESPACES: sc.name, METRICS_PORT: String(METRICS_PORT_SCALE), LOG_LEVEL: 'warn' }, 'dist/main.js');
    cleanups.push(() => sop.stop());
    await section('scale', () => scale(sc.name, sop));
  }
}

try {
  await main();
} catch (e) {
  results.errors.push(String(e));
  log('fatal:', e);
} finally {
  log('cleaning up');
  await cleanupAll();
  // What the helpers went on past is reported with the errors.
  results.errors.push(...problems);
  results.finishedAt = new Date().toISOString();
  save();
  printTable();
}
process.exit(results.errors.length > 0 ? 1 : 0);
