import { describe, expect, it } from 'vitest';
import { backupName, parseCommand } from '../../../src/cli/kubectl-rr.js';

describe('kubectl rr arguments', () => {
  it('status, switchover and restart, with their options', () => {
    expect(parseCommand(['status', 'cache', '-n', 'ops', '--watch'])).toEqual({ command: 'status', name: 'cache', namespace: 'ops', watch: true, noColor: false });
    expect(parseCommand(['switchover', 'cache'])).toEqual({ command: 'switchover', name: 'cache', namespace: undefined, to: 'auto', timeoutSeconds: 60 });
    expect(parseCommand(['switchover', 'cache', '--to', 'cache-3', '--timeout', '30'])).toMatchObject({ to: 'cache-3', timeoutSeconds: 30 });
    expect(parseCommand(['restart', 'cache', '--no-wait'])).toEqual({ command: 'restart', name: 'cache', namespace: undefined, wait: false, timeoutSeconds: 900 });
  });

  it('backup NAME creates <NAME>-<UTC time> and waits unless --no-wait', () => {
    expect(parseCommand(['backup', 'cache', '-n', 'ops'])).toEqual({ command: 'backup', name: 'cache', namespace: 'ops', wait: true, timeoutSeconds: 900 });
    expect(parseCommand(['backup', 'cache', '--no-wait'])).toMatchObject({ command: 'backup', wait: false });
    expect(() => parseCommand(['backup', 'cache', '--to', 'x'])).toThrow(/--to does not apply/);
    expect(backupName('cache', new Date('2026-12-04T10:15:00.500Z'))).toBe('cache-20261204t101500z');
  });

  it('help with --help or nothing', () => {
    expect(parseCommand([])).toEqual({ command: 'help' });
    expect(parseCommand(['status', '--help'])).toEqual({ command: 'help' });
  });

  it('says clearly what is wrong', () => {
    expect(() => parseCommand(['promote', 'cache'])).toThrow(/unknown command "promote"/);
    expect(() => parseCommand(['status'])).toThrow(/name the RedisReplication/);
    expect(() => parseCommand(['status', 'a', 'b'])).toThrow(/one resource at a time/);
    expect(() => parseCommand(['status', 'cache', '--to', 'x'])).toThrow(/--to does not apply/);
    expect(() => parseCommand(['restart', 'cache', '--timeout', 'soon'])).toThrow(/seconds/);
    expect(() => parseCommand(['status', 'cache', '--bogus'])).toThrow(/unknown option --bogus/);
  });
});
