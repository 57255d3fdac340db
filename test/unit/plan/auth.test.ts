import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { StoredAuth } from '../../../src/plan/acl.js';
import { authOutcome, planAppliedAuth, planGeneratedSecret, type FreshPasswords } from '../../../src/plan/auth.js';

const fresh: FreshPasswords = { password: 'fresh', operatorPassword: 'fresh-op', replicationPassword: 'fresh-repl', backupPassword: 'fresh-bk' };
const stored: StoredAuth = { password: 'pods', operatorPassword: 'op', replicationPassword: 'repl', backupPassword: 'bk', users: [] };
const notOwned = { reason: 'SecretNotOwned', message: 'Secret cache-applied-auth was not created by the operator' };
const missing = { reason: 'SecretMissing', message: 'Secret pw does not exist' };

describe('planGeneratedSecret: the password of <name>-auth', () => {
  const cases: [string, Parameters<typeof planGeneratedSecret>[1], Parameters<typeof planGeneratedSecret>[2], ReturnType<typeof planGeneratedSecret>][] = [
    ['there: used as it is', { value: 'kept' }, { value: stored }, { kind: 'use', password: 'kept' }],
    ['there but not the operator\'s: refused', { problem: notOwned }, { value: stored }, { kind: 'refuse', problem: notOwned }],
    ['missing, no pod has a password yet: created with a new one', { value: undefined }, { value: undefined }, { kind: 'create', password: 'fresh' }],
    [
      'missing while the pods have one: re-created with theirs, and an Event says so',
      { value: undefined },
      { value: stored },
      {
        kind: 'create',
        password: 'pods',
        restored: { reason: 'AuthSecretRestored', message: 'Secret cache-auth was missing: re-created with the password the pods have (to change it, edit its key password)' },
      },
    ],
    ['missing while the applied-auth Secret is not the operator\'s: not created', { value: undefined }, { problem: notOwned }, { kind: 'refuse', problem: notOwned }],
  ];
  it.each(cases)('%s', (_, existing, applied, plan) => {
    expect(planGeneratedSecret('cache-auth', existing, applied, fresh)).toEqual(plan);
  });
});

describe('planAppliedAuth: what the applied-auth Secret holds', () => {
  it('nothing while there is no password at all', () => {
    expect(planAppliedAuth(undefined, undefined, fresh)).toEqual({ kind: 'none' });
  });

  it('created the first time with the wanted password and new passwords for the own users', () => {
    expect(planAppliedAuth(undefined, 'wanted', fresh)).toEqual({
      kind: 'create',
      applied: { password: 'wanted', previous: undefined, operatorPassword: 'fresh-op', replicationPassword: 'fresh-repl', backupPassword: 'fresh-bk', users: [] },
    });
  });

  it('completed where an own user\'s password is missing (a resource from before ACL users or backups), else kept', () => {
    expect(planAppliedAuth({ ...stored, backupPassword: undefined }, 'wanted', fresh)).toEqual({ kind: 'complete', applied: { ...stored, backupPassword: 'fresh-bk' } });
    expect(planAppliedAuth({ ...stored, operatorPassword: undefined, replicationPassword: undefined }, 'wanted', fresh)).toMatchObject({
      kind: 'complete',
      applied: { operatorPassword: 'fresh-op', replicationPassword: 'fresh-repl', backupPassword: 'bk' },
    });
    expect(planAppliedAuth(stored, 'wanted', fresh)).toEqual({ kind: 'keep', applied: stored });
  });

  it('property: a password the pods have is never replaced here (a rotation changes it, one pod at a time)', () => {
    const password = fc.option(fc.string(), { nil: undefined });
    fc.assert(
      fc.property(fc.string(), password, password, password, password, fc.option(fc.string(), { nil: undefined }), (pw, previous, op, repl, bk, wanted) => {
        const had: StoredAuth = { password: pw, previous, operatorPassword: op, replicationPassword: repl, backupPassword: bk, users: [] };
        const plan = planAppliedAuth(had, wanted, fresh);
        expect(plan.kind).not.toBe('create');
        if (plan.kind === 'none') throw new Error('a stored password is a password');
        expect(plan.applied).toMatchObject({ password: pw, previous, operatorPassword: op ?? 'fresh-op', replicationPassword: repl ?? 'fresh-repl', backupPassword: bk ?? 'fresh-bk' });
        expect(plan.kind === 'keep').toBe(Boolean(op && repl && bk));
      }),
    );
  });
});

describe('authOutcome: the auth of the pass, and what a problem means for the pods', () => {
  const applied = { ...stored, operatorPassword: 'op', replicationPassword: 'repl', backupPassword: 'bk' };

  it('a usable Secret: no problem', () => {
    expect(authOutcome({ value: 'new' }, { value: applied })).toEqual({ applied, wanted: 'new', problem: undefined });
  });

  it('an unusable Secret: the pods keep the password they have, or no pod is created', () => {
    expect(authOutcome({ problem: missing }, { value: applied })).toEqual({ applied, wanted: undefined, problem: { reason: 'SecretMissing', message: 'Secret pw does not exist; the pods keep the password they have' } });
    expect(authOutcome({ problem: missing }, { value: undefined }).problem?.message).toBe('Secret pw does not exist; no pod is created until it can be used');
  });

  it('an applied-auth Secret someone else made: nothing is applied and no pod is created until it is gone, whatever the Secret', () => {
    for (const wanted of [{ value: 'new' }, { problem: missing }]) {
      expect(authOutcome(wanted, { problem: notOwned })).toEqual({
        applied: undefined,
        wanted: wanted.value,
        problem: { reason: 'SecretNotOwned', message: 'Secret cache-applied-auth was not created by the operator; no pod is created until it is gone' },
      });
    }
  });
});
