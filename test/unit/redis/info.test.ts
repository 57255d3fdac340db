import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { InfoParseError, parseInfo, parseReplication, parseServer } from '../../../src/redis/info.js';

const fixture = (name: string) => readFileSync(new URL(`../../fixtures/info/${name}.txt`, import.meta.url), 'utf8');

describe('parseReplication on captured redis-server 7.0 output', () => {
  it('the fixtures keep the CRLF line ends of the wire', () => {
    expect(fixture('master-no-replicas')).toContain('\r\n');
  });

  it('a master with no replicas', () => {
    expect(parseReplication(fixture('master-no-replicas'))).toEqual({
      role: 'master',
      replId: '4ddda23658b755a8b450698e73a86b5ce5c9020e',
      replOffset: 0,
      connectedReplicas: 0,
      replicas: [],
      backlogSize: 1048576,
      backlogFirstByte: 0,
    });
  });

  it('a master with several replicas', () => {
    expect(parseReplication(fixture('master-with-replicas'))).toEqual({
      role: 'master',
      replId: '5f08af13c5d05e3d36373f9a3e16d6e50db3413b',
      replOffset: 563,
      connectedReplicas: 2,
      replicas: [
        { ip: '127.0.0.1', port: 16380, state: 'online', offset: 563, lag: 0 },
        { ip: '127.0.0.1', port: 16381, state: 'online', offset: 563, lag: 0 },
      ],
      backlogSize: 1048576,
      backlogFirstByte: 1,
    });
  });

  it('a master with a replica waiting for its snapshot', () => {
    const info = parseReplication(fixture('master-replica-syncing'));
    expect(info.connectedReplicas).toBe(3);
    expect(info.replicas[2]).toEqual({ ip: '127.0.0.1', port: 16383, state: 'wait_bgsave', offset: 0, lag: 0 });
  });

  it('a replica with its link up', () => {
    expect(parseReplication(fixture('replica-link-up'))).toEqual({
      role: 'replica',
      replId: '5f08af13c5d05e3d36373f9a3e16d6e50db3413b',
      replOffset: 563,
      connectedReplicas: 0,
      replicas: [],
      masterHost: '127.0.0.1',
      masterPort: 16379,
      linkUp: true,
      syncInProgress: false,
      replicaOffset: 563,
      lastIoSecondsAgo: 1,
      readOnly: true,
      backlogSize: 1048576,
      backlogFirstByte: 1,
    });
  });

  it('a full INFO (default sections) adds the sync counters of INFO stats', () => {
    expect(parseReplication(fixture('master-info-default-redis-7.0'))).toMatchObject({
      role: 'master',
      connectedReplicas: 1,
      backlogSize: 1048576,
      backlogFirstByte: 1,
      syncs: { full: 1, partialOk: 1, partialErr: 0 },
    });
    expect(parseReplication(fixture('master-with-replicas')).syncs).toBeUndefined();
  });

  it('a replica in a full sync', () => {
    const info = parseReplication(fixture('replica-syncing'));
    expect(info).toMatchObject({ role: 'replica', linkUp: false, syncInProgress: true, lastIoSecondsAgo: -1, replicaOffset: 1 });
  });

  it('a replica whose parent is gone', () => {
    const info = parseReplication(fixture('replica-link-down'));
    expect(info).toMatchObject({
      role: 'replica',
      masterPort: 16380,
      linkUp: false,
      syncInProgress: false,
      lastIoSecondsAgo: -1,
      replicaOffset: 600,
    });
  });

  it('a mid-tier replica with a replica of its own', () => {
    const info = parseReplication(fixture('replica-mid-tier'));
    expect(info).toMatchObject({ role: 'replica', linkUp: true, masterPort: 16379, replicaOffset: 600, replOffset: 600, connectedReplicas: 1 });
    expect(info.replicas).toEqual([{ ip: '127.0.0.1', port: 16382, state: 'online', offset: 563, lag: 0 }]);
  });
});

describe('parseReplication on other text', () => {
  it('reads LF text without a header, replica lines in index order, and missing fields as defaults', () => {
    const info = parseReplication('role:slave\nslave1:ip=10.0.0.2,port=6379,state=online,offset=5,lag=1\nslave0:ip=10.0.0.1,port=6379\n');
    expect(info).toMatchObject({ role: 'replica', masterHost: '', masterPort: 0, linkUp: false, lastIoSecondsAgo: -1, readOnly: true });
    expect(info.replicas).toEqual([
      { ip: '10.0.0.1', port: 6379, state: 'unknown', offset: 0, lag: -1 },
      { ip: '10.0.0.2', port: 6379, state: 'online', offset: 5, lag: 1 },
    ]);
  });

  it('ignores unknown fields and reads slave_read_only:0', () => {
    const info = parseReplication('# Replication\r\nrole:slave\r\nsomething_new:x\r\nslave_read_only:0\r\n');
    expect(info).toMatchObject({ role: 'replica', readOnly: false });
  });

  it('finds the replication section in a full INFO', () => {
    const text = '# Server\r\nredis_version:7.0.15\r\nrole:nonsense\r\n\r\n# Replication\r\nrole:master\r\nmaster_repl_offset:9\r\n';
    expect(parseReplication(text)).toMatchObject({ role: 'master', replOffset: 9 });
    expect(parseInfo(text)['server']).toEqual({ redis_version: '7.0.15', role: 'nonsense' });
  });

  it.each([
    ['', /no role/],
    ['-ERR unknown command', /no role/],
    ['# Server\r\nredis_version:7.0.15\r\n', /no role/],
    ['role:sentinel\r\n', /unknown role "sentinel"/],
    ['role:master\r\nmaster_repl_offset:abc\r\n', /master_repl_offset is not an integer/],
    ['role:master\r\nslave0:port=1\r\n', /slave0 has no ip/],
  ])('refuses %j', (text, message) => {
    expect(() => parseReplication(text)).toThrow(InfoParseError);
    expect(() => parseReplication(text)).toThrow(message);
  });
});

describe('the three servers (fixtures captured from the real binaries by capture-servers.sh)', () => {
  it('parseServer tells Redis 6.2, Redis 7.0 and Valkey 8.1 apart, with the version each reports', () => {
    expect(parseServer(fixture('server-redis-6.2'))).toEqual({ server: 'redis', version: '6.2.14' });
    expect(parseServer(fixture('server-redis-7.0'))).toEqual({ server: 'redis', version: '7.0.15' });
    // Valkey keeps redis_version at the Redis it is compatible with (7.2.4): its own is valkey_version.
    expect(parseServer(fixture('server-valkey-8.1'))).toEqual({ server: 'valkey', version: '8.1.8' });
    expect(() => parseServer(fixture('master-no-replicas'))).toThrow(InfoParseError);
  });

  it('parses INFO replication of a linked replica the same way on each', () => {
    for (const name of ['redis-6.2', 'redis-7.0', 'valkey-8.1']) {
      const info = parseReplication(fixture(`replica-link-up-${name}`));
      expect(info, name).toMatchObject({ role: 'replica', masterHost: '127.0.0.1', linkUp: true, syncInProgress: false });
    }
  });
});
