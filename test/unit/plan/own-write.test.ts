import { describe, expect, it } from 'vitest';
import { cacheBehind, ownWriteAfter } from '../../../src/plan/own-write.js';

describe('own writes and the informer cache', () => {
  it('a pass that wrote leaves the version it replaced; one that did not, nothing', () => {
    expect(ownWriteAfter('10', '12', 5)).toEqual({ replaced: '10', atMs: 5 });
    expect(ownWriteAfter('10', '10', 5)).toBeUndefined();
    expect(ownWriteAfter(undefined, '12', 5)).toBeUndefined();
    expect(ownWriteAfter('10', undefined, 5)).toBeUndefined();
  });

  it('the cache is behind only while it shows the replaced version, for 5 s at most', () => {
    const own = { replaced: '10', atMs: 1_000 };
    expect(cacheBehind(own, '10', 1_000)).toBe(true);
    expect(cacheBehind(own, '10', 5_999)).toBe(true);
    expect(cacheBehind(own, '10', 6_000)).toBe(false);
    expect(cacheBehind(own, '12', 1_000)).toBe(false);
    expect(cacheBehind(own, '11', 1_000)).toBe(false);
    expect(cacheBehind(undefined, '10', 1_000)).toBe(false);
  });
});
