import { describe, expect, it } from 'vitest';
import { semanticEqual } from '../../../src/kube/semantic.js';

describe('semanticEqual', () => {
  it('ignores key order and undefined fields, as the API server stores objects', () => {
    expect(semanticEqual({ app: 'a', role: 'primary' }, { role: 'primary', app: 'a' })).toBe(true);
    expect(semanticEqual({ a: 1, b: undefined }, { a: 1 })).toBe(true);
    expect(semanticEqual({ a: [{ x: 1, y: undefined }] }, { a: [{ x: 1 }] })).toBe(true);
  });

  it('tells apart values, missing keys, array order and null', () => {
    expect(semanticEqual({ role: 'primary' }, { role: 'replica' })).toBe(false);
    expect(semanticEqual({ a: 1 }, { a: 1, b: 2 })).toBe(false);
    expect(semanticEqual([1, 2], [2, 1])).toBe(false);
    expect(semanticEqual({ a: null }, { a: undefined })).toBe(false);
    expect(semanticEqual(undefined, {})).toBe(false);
    expect(semanticEqual([], {})).toBe(false);
  });
});
