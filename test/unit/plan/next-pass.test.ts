import { describe, expect, it } from 'vitest';
import { nextPassMs, type NextPassInput } from '../../../src/plan/next-pass.js';

const ok = { kind: 'ok', primary: 'r-0' } as const;
const settled: NextPassInput = { resyncMs: 30_000, decision: ok, moving: false, wrote: false, background: false, dueInMs: [] };

describe('nextPassMs', () => {
  it('a settled resource whose pass wrote nothing: no pass until something changes', () => {
    expect(nextPassMs(settled)).toBeUndefined();
  });

  it('a pass that wrote something, or work beside passes, or a decision not settled: the resync', () => {
    expect(nextPassMs({ ...settled, wrote: true })).toBe(30_000);
    expect(nextPassMs({ ...settled, background: true })).toBe(30_000);
    expect(nextPassMs({ ...settled, decision: { kind: 'lost', primary: 'r-0', reason: 'PrimaryUnreachable', message: 'no failover' } })).toBe(30_000);
    expect(nextPassMs({ ...settled, decision: { kind: 'failover', from: 'r-0', to: 'r-1', reason: 'PrimaryRestarted' } })).toBe(30_000);
  });

  it('within 200 ms while the primary is in doubt, within a second while something moves (never later than the resync)', () => {
    const wait = { kind: 'wait', primary: 'r-0', message: 'not answering' } as const;
    expect(nextPassMs({ ...settled, decision: wait })).toBe(200);
    expect(nextPassMs({ ...settled, decision: wait, resyncMs: 100 })).toBe(100);
    expect(nextPassMs({ ...settled, moving: true })).toBe(1000);
    expect(nextPassMs({ ...settled, moving: true, resyncMs: 500 })).toBe(500);
  });

  it('a moment the pass waits for comes first when it is sooner, and is the only reason for a quiet one', () => {
    expect(nextPassMs({ ...settled, dueInMs: [undefined, 90_000] })).toBe(90_000);
    expect(nextPassMs({ ...settled, wrote: true, dueInMs: [5_000, 90_000] })).toBe(5_000);
    expect(nextPassMs({ ...settled, wrote: true, dueInMs: [90_000] })).toBe(30_000);
    expect(nextPassMs({ ...settled, dueInMs: [0] })).toBe(0);
  });
});
