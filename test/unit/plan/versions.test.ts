import { describe, expect, it } from 'vitest';
import { downgradeRefusal, imageForNewPods, imageVersion, rdbFormat } from '../../../src/plan/versions.js';

const pod = (name: string, server: 'redis' | 'valkey', version: string) => ({ name, server: { server, version } });

describe('imageVersion', () => {
  it('reads the server from the repository and the release line from the tag', () => {
    expect(imageVersion('redis:7.0')).toEqual({ server: 'redis', major: 7, minor: 0 });
    expect(imageVersion('valkey/valkey:8.1-alpine')).toEqual({ server: 'valkey', major: 8, minor: 1 });
    expect(imageVersion('registry.local:5000/team/redis:6.2.14@sha256:abc')).toEqual({ server: 'redis', major: 6, minor: 2 });
    expect(imageVersion('redis')).toBeUndefined();
    expect(imageVersion('redis:latest')).toBeUndefined();
    expect(imageVersion('redis:7')).toBeUndefined();
  });
});

describe('rdbFormat', () => {
  it('is exact for a known line and a lower bound beyond the table', () => {
    expect(rdbFormat({ server: 'redis', major: 6, minor: 2 })).toEqual({ rdb: 9, atLeast: false });
    expect(rdbFormat({ server: 'redis', major: 7, minor: 0 })).toEqual({ rdb: 10, atLeast: false });
    expect(rdbFormat({ server: 'valkey', major: 8, minor: 1 })).toEqual({ rdb: 11, atLeast: false });
    expect(rdbFormat({ server: 'redis', major: 8, minor: 0 })).toEqual({ rdb: 12, atLeast: false });
    expect(rdbFormat({ server: 'redis', major: 8, minor: 2 })).toEqual({ rdb: 12, atLeast: true });
    expect(rdbFormat({ server: 'redis', major: 5, minor: 0 })).toBeUndefined();
  });
});

describe('downgradeRefusal', () => {
  it('lets upgrades through: Redis 6.2 to 7.0, Redis 7.0 to Valkey 8.1', () => {
    expect(downgradeRefusal('redis:7.0', [pod('a-0', 'redis', '6.2.14'), pod('a-1', 'redis', '6.2.14')])).toBeUndefined();
    expect(downgradeRefusal('valkey/valkey:8.1', [pod('a-0', 'redis', '7.0.15')])).toBeUndefined();
    expect(downgradeRefusal('redis:7.0.10', [pod('a-0', 'redis', '7.0.15')])).toBeUndefined();
  });

  it('refuses an image older than a running pod: Valkey 8.1 to Redis 6.2 or 7.0, Redis 7.0 to 6.2', () => {
    const refusal = downgradeRefusal('redis:6.2', [pod('a-0', 'valkey', '8.1.8'), pod('a-1', 'valkey', '8.1.8')]);
    expect(refusal).toMatch(/^spec.image redis:6.2 runs Redis 6.2, which cannot load the data of a-0 \(Valkey 8.1, 8.1.8\)/);
    expect(refusal).toMatch(/No pod was touched/);
    expect(downgradeRefusal('redis:7.0', [pod('a-0', 'valkey', '8.1.8')])).toMatch(/RDB format 11 is newer than 10/);
    // Redis 8.0 writes RDB 12, which Valkey 8.1 cannot read.
    expect(downgradeRefusal('valkey/valkey:8.1', [pod('a-0', 'redis', '8.0.2')])).toMatch(/RDB format 12 is newer than 11/);
    expect(downgradeRefusal('redis:6.2-bookworm', [pod('a-0', 'redis', '7.0.15')])).toBeDefined();
  });

  it('does not judge what it cannot tell: no version in the tag, a line newer than the table, pods not answering', () => {
    expect(downgradeRefusal('redis:latest', [pod('a-0', 'valkey', '8.1.8')])).toBeUndefined();
    expect(downgradeRefusal('valkey/valkey:9.0', [pod('a-0', 'redis', '8.2.1')])).toBeUndefined();
    expect(downgradeRefusal('redis:6.2', [{ name: 'a-0', server: undefined }])).toBeUndefined();
  });
});

describe('imageForNewPods', () => {
  const running = (name: string, server: 'redis' | 'valkey', version: string, image: string) => ({ ...pod(name, server, version), image });
  it('is spec.image unless rolling it is refused', () => {
    expect(imageForNewPods('redis:7.0', [running('a-0', 'redis', '6.2.14', 'redis:6.2')])).toBe('redis:7.0');
    expect(imageForNewPods('redis:6.2', [])).toBe('redis:6.2');
  });

  it('during a refused downgrade, the image of the pod with the newest data format', () => {
    const pods = [running('a-1', 'redis', '7.0.15', 'redis:7.0'), running('a-0', 'valkey', '8.1.8', 'valkey/valkey:8.1'), { name: 'a-2', server: undefined, image: 'redis:6.2' }];
    expect(imageForNewPods('redis:6.2', pods)).toBe('valkey/valkey:8.1');
  });
});
