import { describe, expect, it } from 'vitest';
import { ConfigError, HELP_TEXT, isHelpRequested, loadConfig, type HostFacts } from '../../src/config.js';

const host: HostFacts = { hostname: 'op-0', pid: 42 };

describe('loadConfig', () => {
  it('applies defaults', () => {
    expect(loadConfig([], {}, host)).toEqual({
      namespaces: [],
      logLevel: 'info',
      metricsPort: 8080,
      leaderElect: false,
      leaseName: 'redis-replication-operator',
      leaseNamespace: 'default',
      identity: 'op-0_42',
      healthIntervalMs: 1000,
      resyncIntervalMs: 30000,
      concurrency: 4,
      restoreAddress: '',
      restorePort: 6380,
    });
  });

  it('takes the restore address as an IP only: pods connect to it', () => {
    expect(loadConfig([], { RESTORE_ADDRESS: '10.1.2.3', RESTORE_PORT: '0' }, host)).toMatchObject({ restoreAddress: '10.1.2.3', restorePort: 0 });
    expect(() => loadConfig(['--restore-address', 'operator.svc'], {}, host)).toThrow(/--restore-address \/ RESTORE_ADDRESS/);
  });

  it('takes the lease namespace from the in-cluster file when present', () => {
    expect(loadConfig([], {}, { ...host, inClusterNamespace: 'ops' }).leaseNamespace).toBe('ops');
  });

  it('reads environment variables', () => {
    const c = loadConfig([], {
      WATCH_NAMESPACES: 'a, b,,c',
      LOG_LEVEL: 'debug',
      METRICS_PORT: '9090',
      LEADER_ELECT: 'true',
      POD_NAMESPACE: 'ops',
      POD_NAME: 'op-abc',
      HEALTH_INTERVAL_MS: '500',
      RESYNC_INTERVAL_MS: '60000',
      CONCURRENCY: '8',
    }, host);
    expect(c).toMatchObject({
      namespaces: ['a', 'b', 'c'],
      logLevel: 'debug',
      metricsPort: 9090,
      leaderElect: true,
      leaseNamespace: 'ops',
      identity: 'op-abc',
      healthIntervalMs: 500,
      resyncIntervalMs: 60000,
      concurrency: 8,
    });
  });

  it('lets flags win over the environment, in both flag forms', () => {
    const c = loadConfig(['--concurrency', '2', '--log-level=warn', '--leader-elect'], { CONCURRENCY: '8' }, host);
    expect(c).toMatchObject({ concurrency: 2, logLevel: 'warn', leaderElect: true });
    expect(loadConfig(['--leader-elect=false'], { LEADER_ELECT: 'true' }, host).leaderElect).toBe(false);
  });

  it('names the flag and variable of a bad value', () => {
    expect(() => loadConfig([], { METRICS_PORT: 'abc' }, host)).toThrow(/--metrics-port \/ METRICS_PORT/);
    expect(() => loadConfig(['--concurrency=0'], {}, host)).toThrow(/--concurrency \/ CONCURRENCY.*"0"/);
    expect(() => loadConfig([], { WATCH_NAMESPACES: 'Bad_NS' }, host)).toThrow(/WATCH_NAMESPACES/);
    expect(() => loadConfig([], { LEADER_ELECT: 'maybe' }, host)).toThrow(ConfigError);
  });

  it('rejects unknown flags and missing values', () => {
    expect(() => loadConfig(['--nope'], {}, host)).toThrow(/unknown flag --nope/);
    expect(() => loadConfig(['--lease-name'], {}, host)).toThrow(/needs a value/);
  });

  it('has help text naming every flag', () => {
    expect(isHelpRequested(['--help'])).toBe(true);
    for (const f of ['--namespaces', '--health-interval', 'POD_NAMESPACE', '--identity']) expect(HELP_TEXT).toContain(f);
  });
});
