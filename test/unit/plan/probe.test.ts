import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { V1Pod } from '@kubernetes/client-node';
import { CONFIRM_SILENCE_MS, downSaid, judgeProbe, losesPrimary, primaryDownAt, silentPrimaryPatienceMs, type ProbeAnswer, type ProbedPod, type ProbeInput, type ProbeMemory } from '../../../src/plan/probe.js';
import { BOOT_PARENT, LABEL } from '../../../src/plan/names.js';
import type { PrimaryInfo, ReplicaInfo } from '../../../src/redis/info.js';

const readService = { maxLagSeconds: 5, includePrimary: false, preferClose: true };
const IP = { 'c-0': '10.0.0.1', 'c-1': '10.0.0.2', 'c-2': '10.0.0.3' } as const;

const master = (over: Partial<PrimaryInfo> = {}, lag = 0): PrimaryInfo => ({
  role: 'master',
  replId: 'r1',
  replOffset: 1000,
  connectedReplicas: 2,
  replicas: [
    { ip: IP['c-1'], port: 6379, state: 'online', offset: 1000, lag },
    { ip: IP['c-2'], port: 6379, state: 'online', offset: 1000, lag: 0 },
  ],
  ...over,
});
const replica = (over: Partial<ReplicaInfo> = {}): ReplicaInfo => ({
  role: 'replica',
  replId: 'r1',
  replOffset: 1000,
  connectedReplicas: 0,
  replicas: [],
  masterHost: IP['c-0'],
  masterPort: 6379,
  linkUp: true,
  syncInProgress: false,
  replicaOffset: 1000,
  lastIoSecondsAgo: 0,
  readOnly: true,
  ...over,
});

type Answers = Partial<Record<keyof typeof IP, ProbeAnswer>>;
const healthy = (): Answers => ({ 'c-0': master(), 'c-1': replica(), 'c-2': replica() });

const pod = (name: keyof typeof IP, answer: ProbeAnswer, podIP: string = IP[name]): ProbedPod => ({
  name,
  index: Number(name.slice(2)),
  tier: name === 'c-0' ? 0 : 1,
  parent: name === 'c-0' ? undefined : 'c-0',
  podIP,
  answer,
});

const input = (answers: Answers, nowMs: number, over: Partial<ProbeInput> = {}): ProbeInput => ({
  primary: 'c-0',
  pods: (Object.entries(answers) as [keyof typeof IP, ProbeAnswer][]).map(([name, answer]) => pod(name, answer)),
  readService,
  primaryDownSeconds: 3,
  sentAtMs: nowMs,
  nowMs,
  ...over,
});

/** Probes in sequence, a second apart: the verdict of each after the first. */
function probes(...rounds: Answers[]) {
  let memory: ProbeMemory | undefined;
  return rounds.map((answers, i) => {
    const verdict = judgeProbe(memory, input(answers, i * 1000));
    memory = verdict.memory;
    return verdict;
  });
}

const reasons = (v: ReturnType<typeof judgeProbe>) => v.changes.map((c) => `${c.pod}: ${c.reason}`);

describe('judgeProbe: a quiet resource enqueues nothing', () => {
  it('the same answers again', () => {
    const [, second] = probes(healthy(), healthy());
    expect(second!.enqueue).toBe('none');
    expect(second!.changes).toEqual([]);
  });

  it('offsets moving forward and lag within maxLagSeconds only refresh measurements', () => {
    const later = { 'c-0': master({ replOffset: 5000 }, 4), 'c-1': replica({ replOffset: 4990, replicaOffset: 4990, lastIoSecondsAgo: 1 }), 'c-2': replica({ replOffset: 5000, replicaOffset: 5000 }) };
    expect(probes(healthy(), later)[1]!.enqueue).toBe('none');
  });

  it('the first probe of a resource only remembers it: the informers enqueue every resource at start', () => {
    expect(probes(healthy())[0]!.enqueue).toBe('none');
  });

  it('property: whatever the offsets do going forward, and whatever the lag within the limit, nothing is enqueued', () => {
    const round = fc.record({ offset: fc.integer({ min: 1, max: 1_000_000 }), lag1: fc.integer({ min: 0, max: 6 }), lag2: fc.integer({ min: 0, max: 6 }), io: fc.integer({ min: -1, max: 6 }) });
    fc.assert(
      fc.property(fc.array(round, { minLength: 2, maxLength: 8 }), (rounds) => {
        // Pods that hold data already (the first data is news: see 'holds data').
        let offset = 1000;
        const answers = rounds.map((r) => {
          offset += r.offset;
          return {
            'c-0': master({ replOffset: offset, replicas: [{ ip: IP['c-1'], port: 6379, state: 'online', offset, lag: r.lag1 }, { ip: IP['c-2'], port: 6379, state: 'online', offset, lag: r.lag2 }] }),
            'c-1': replica({ replOffset: offset, replicaOffset: offset, lastIoSecondsAgo: r.io }),
            'c-2': replica({ replOffset: offset - 1, replicaOffset: offset - 1 }),
          };
        });
        return probes(...answers)
          .slice(1)
          .every((v) => v.enqueue === 'none');
      }),
    );
  });
});

describe('judgeProbe: a change a decision reads enqueues the resource', () => {
  const cases: [string, Answers, string[]][] = [
    ['a replica whose link went down', { ...healthy(), 'c-1': replica({ linkUp: false, lastIoSecondsAgo: -1 }) }, ['c-1: link', 'c-1: read']],
    ['a replica in a full sync (its parent shows it too)', { 'c-0': master({ replicas: [{ ip: IP['c-1'], port: 6379, state: 'send_bulk', offset: 0, lag: 0 }, { ip: IP['c-2'], port: 6379, state: 'online', offset: 1000, lag: 0 }] }), 'c-1': replica({ syncInProgress: true, linkUp: false }), 'c-2': replica() }, ['c-0: replicas', 'c-1: link', 'c-1: read']],
    ['a replica re-pointed elsewhere', { ...healthy(), 'c-2': replica({ masterHost: IP['c-1'] }) }, ['c-2: parent', 'c-2: read']],
    ['a replica that restarted empty: it boots a replica of nothing, with a new replication ID and offset 0', { ...healthy(), 'c-2': replica({ masterHost: BOOT_PARENT.host, masterPort: BOOT_PARENT.port, linkUp: false, replId: 'fresh', replOffset: 0, replicaOffset: 0 }) }, ['c-2: parent', 'c-2: link', 'c-2: replication id', 'c-2: offset back', 'c-2: holds data', 'c-2: read']],
    ['a replica promoted behind the operator\'s back', { ...healthy(), 'c-1': master({ replId: 'r2', replId2: 'r1', replicas: [] }) }, ['c-1: role']],
    ['a replica past maxLagSeconds (its parent says so)', { ...healthy(), 'c-0': master({}, 7) }, ['c-1: read']],
    ['a replica that stopped answering', { ...healthy(), 'c-2': undefined }, ['c-2: silent']],
    ['a replica that refuses the credentials of the last pass (a rotated password)', { ...healthy(), 'c-2': 'refused' }, ['c-2: refused']],
    ['an offset that went back (a full sync onto less data)', { ...healthy(), 'c-2': replica({ replOffset: 10, replicaOffset: 10 }) }, ['c-2: offset back']],
  ];
  for (const [what, after, expected] of cases) {
    it(`${what}: routine`, () => {
      const [, verdict] = probes(healthy(), after);
      expect(reasons(verdict!)).toEqual(expected);
      expect(verdict!.enqueue).toBe('routine');
    });
  }

  it('a pod that answers again, and a pod first seen answering (a new pod, a new IP): routine', () => {
    const [, , back] = probes(healthy(), { ...healthy(), 'c-2': undefined }, healthy());
    expect(reasons(back!)).toEqual(['c-2: answers']);
    const [, fresh] = probes({ 'c-0': master(), 'c-1': replica() }, healthy());
    expect(reasons(fresh!)).toEqual(['c-2: new pod']);
    let memory = judgeProbe(undefined, input(healthy(), 0)).memory;
    const moved = judgeProbe(memory, { ...input(healthy(), 1000), pods: [pod('c-0', master()), pod('c-1', replica()), pod('c-2', replica(), '10.0.0.9')] });
    expect(reasons(moved)).toEqual(['c-2: new pod']);
    memory = moved.memory;
    // A new pod that does not answer yet: its pass came with its IP (a watch event); it is enqueued once it answers.
    const silentNewcomer = judgeProbe(judgeProbe(undefined, input({ 'c-0': master(), 'c-1': replica() }, 0)).memory, input({ ...healthy(), 'c-2': undefined }, 1000));
    expect(silentNewcomer.enqueue).toBe('none');
  });
});

describe('judgeProbe: a lost primary is urgent', () => {
  it('a silent primary: urgent at once, quiet while the silence lasts, urgent again once it reaches primaryDownSeconds, once', () => {
    const silent = { ...healthy(), 'c-0': undefined };
    const verdicts = probes(healthy(), silent, silent, silent, silent, silent, silent);
    expect(verdicts.map((v) => v.enqueue)).toEqual(['none', 'urgent', 'none', 'none', 'urgent', 'none', 'none']);
    expect(reasons(verdicts[1]!)).toEqual(['c-0: silent']);
    expect(reasons(verdicts[4]!)).toEqual(['c-0: primary down']);
  });

  it('primaryDownSeconds counts from the first silent probe, and starts again after an answer', () => {
    const silent = { ...healthy(), 'c-0': undefined };
    const verdicts = probes(healthy(), silent, silent, healthy(), silent, silent, silent, silent);
    expect(verdicts.map((v) => v.enqueue)).toEqual(['none', 'urgent', 'none', 'routine', 'urgent', 'none', 'none', 'urgent']);
  });

  it('a primary silent at the first probe (an operator that just started) is urgent', () => {
    expect(probes({ ...healthy(), 'c-0': undefined })[0]!.enqueue).toBe('urgent');
  });

  it('a primary that restarted (a replica of nothing) or was demoted: urgent', () => {
    const booted = replica({ masterHost: BOOT_PARENT.host, masterPort: BOOT_PARENT.port, linkUp: false, replId: 'fresh', replOffset: 0 });
    expect(probes(healthy(), { ...healthy(), 'c-0': booted })[1]!.enqueue).toBe('urgent');
    expect(probes(healthy(), { ...healthy(), 'c-0': replica({ masterHost: IP['c-1'] }) })[1]!.enqueue).toBe('urgent');
  });

  it('a primary that refuses the last credentials answers: routine, not urgent', () => {
    expect(probes(healthy(), { ...healthy(), 'c-0': 'refused' })[1]!.enqueue).toBe('routine');
  });

  it('a silence starts when the unanswered probe was sent, not when it timed out: the wait for primaryDownSeconds counts from there', () => {
    const first = judgeProbe(undefined, input(healthy(), 0));
    // Sent at 1 s, timed out at 2 s (a frozen primary answers nothing until the command timeout).
    const silent = judgeProbe(first.memory, input({ ...healthy(), 'c-0': undefined }, 2000, { sentAtMs: 1000, primaryDownSeconds: 1 }));
    expect(silent.memory.pods.get('c-0')?.silentSinceMs).toBe(1000);
    expect(reasons(silent)).toEqual(['c-0: silent', 'c-0: primary down']);
  });

  it('a silent replica is not urgent, however long', () => {
    const silent = { ...healthy(), 'c-1': undefined };
    expect(probes(healthy(), silent, silent, silent, silent, silent).map((v) => v.enqueue)).toEqual(['none', 'routine', 'none', 'none', 'none', 'none']);
  });

  it('property: a silent primary is enqueued urgently when it goes silent and when the silence reaches primaryDownSeconds, and at no other probe', () => {
    fc.assert(
      fc.property(fc.array(fc.boolean(), { minLength: 1, maxLength: 20 }), fc.integer({ min: 1, max: 5 }), (answered, downSeconds) => {
        let memory: ProbeMemory | undefined = judgeProbe(undefined, input(healthy(), 0, { primaryDownSeconds: downSeconds })).memory;
        let silentSince: number | undefined;
        return answered.every((up, i) => {
          const now = (i + 1) * 1000;
          const v = judgeProbe(memory, input(up ? healthy() : { ...healthy(), 'c-0': undefined }, now, { primaryDownSeconds: downSeconds }));
          memory = v.memory;
          const starts = !up && silentSince === undefined;
          silentSince = up ? undefined : (silentSince ?? now);
          const reaches = !up && now - silentSince! >= downSeconds * 1000 && now - 1000 - silentSince! < downSeconds * 1000;
          return (v.enqueue === 'urgent') === (starts || reaches);
        });
      }),
    );
  });
});

describe('losesPrimary', () => {
  const primaryPod = (over: { deletionTimestamp?: Date; phase?: string; running?: boolean; role?: string } = {}): V1Pod => ({
    metadata: { name: 'c-0', labels: { [LABEL.role]: over.role ?? 'primary' }, ...(over.deletionTimestamp ? { deletionTimestamp: over.deletionTimestamp } : {}) },
    status: {
      phase: over.phase ?? 'Running',
      podIP: '10.0.0.1',
      containerStatuses: [{ name: 'redis', image: 'redis', imageID: '', ready: true, restartCount: 0, state: over.running === false ? { waiting: { reason: 'CrashLoopBackOff' } } : { running: {} } }],
    },
  });

  it('the primary pod deleted, being deleted, its container down, or no longer running', () => {
    expect(losesPrimary('c', 'delete', primaryPod())).toBe(true);
    expect(losesPrimary('c', 'update', primaryPod({ deletionTimestamp: new Date() }))).toBe(true);
    expect(losesPrimary('c', 'update', primaryPod({ running: false }))).toBe(true);
    expect(losesPrimary('c', 'update', primaryPod({ phase: 'Failed' }))).toBe(true);
  });

  it('not a running primary, nor any event of a replica', () => {
    expect(losesPrimary('c', 'update', primaryPod())).toBe(false);
    expect(losesPrimary('c', 'delete', primaryPod({ role: 'replica' }))).toBe(false);
    expect(losesPrimary('other', 'delete', primaryPod())).toBe(false);
  });
});

describe('primaryDownAt', () => {
  const silentFrom = (sentAtMs: number) => judgeProbe(judgeProbe(undefined, input(healthy(), 0)).memory, input({ ...healthy(), 'c-0': undefined }, sentAtMs)).memory;

  it('is the first unanswered probe\'s sending plus primaryDownSeconds, for the primary only', () => {
    const memory = silentFrom(1500);
    expect(primaryDownAt(memory, 'c-0', 3)).toBe(4500);
    expect(primaryDownAt(memory, 'c-1', 3)).toBeUndefined();
    expect(primaryDownAt(memory, undefined, 3)).toBeUndefined();
  });

  it('is none for a primary that answers, and none once said', () => {
    expect(primaryDownAt(judgeProbe(undefined, input(healthy(), 0)).memory, 'c-0', 3)).toBeUndefined();
    expect(primaryDownAt(downSaid(silentFrom(1500), 'c-0'), 'c-0', 3)).toBeUndefined();
  });

  it('once said by the timer, the probe that ends after it does not say it again', () => {
    const said = downSaid(silentFrom(1000), 'c-0');
    const later = judgeProbe(said, input({ ...healthy(), 'c-0': undefined }, 5000));
    expect(reasons(later)).not.toContain('c-0: primary down');
  });
});

describe('silentPrimaryPatienceMs: how long a pass waits for a primary the prober finds silent', () => {
  // Silent since 1000, primaryDownSeconds 3: the silence reaches it at 4000.
  const patience = (nowMs: number) => silentPrimaryPatienceMs(1000, 3, nowMs);

  it('only confirms the silence while primaryDownSeconds is more than a second away, or once it is reached', () => {
    for (const nowMs of [1000, 2000, 3009, 4000, 9000]) expect(patience(nowMs)).toBe(CONFIRM_SILENCE_MS);
  });

  it('waits until just past primaryDownSeconds when that is within a second: the decision that follows fails it over', () => {
    expect(patience(3010)).toBe(1000);
    expect(patience(3500)).toBe(510);
    // The prober's timer starts the pass CONFIRM_SILENCE_MS before: its wait ends as the silence reaches primaryDownSeconds.
    expect(patience(4000 - CONFIRM_SILENCE_MS)).toBe(CONFIRM_SILENCE_MS + 10);
  });

  it('property: every wait is at least the confirmation and at most a second, and ends no earlier than primaryDownSeconds when it can reach it', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 10_000 }), fc.integer({ min: 1, max: 30 }), fc.integer({ min: 0, max: 40_000 }), (since, seconds, elapsed) => {
        const nowMs = since + elapsed;
        const wait = silentPrimaryPatienceMs(since, seconds, nowMs);
        expect(wait).toBeGreaterThanOrEqual(CONFIRM_SILENCE_MS);
        expect(wait).toBeLessThanOrEqual(1000);
        if (since + seconds * 1000 - nowMs <= 990 && since + seconds * 1000 - nowMs > 0) expect(nowMs + wait).toBeGreaterThanOrEqual(since + seconds * 1000);
      }),
    );
  });
});
