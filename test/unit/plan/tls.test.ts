import { describe, expect, it } from 'vitest';
import { caBundle, certificateReloadPath, needsRenewal, pemBlocks, serverNames } from '../../../src/plan/tls.js';

const DAY = 86_400_000;
const pem = (body: string) => `-----BEGIN CERTIFICATE-----\n${body}\n-----END CERTIFICATE-----\n`;

describe('serverNames', () => {
  it('covers both Services in every form a client in the cluster dials, and localhost', () => {
    const names = serverNames('cache', 'ns');
    for (const s of ['cache-primary', 'cache-read']) {
      expect(names).toEqual(expect.arrayContaining([s, `${s}.ns`, `${s}.ns.svc`, `${s}.ns.svc.cluster.local`]));
    }
    expect(names).toContain('localhost');
    expect(names[0]).toBe('cache-primary');
  });
});

describe('needsRenewal', () => {
  const cert = { notBeforeMs: 0, notAfterMs: 90 * DAY };
  it('renews once less than a third of the lifetime is left', () => {
    expect(needsRenewal(cert, 59 * DAY)).toBe(false);
    expect(needsRenewal(cert, 61 * DAY)).toBe(true);
    expect(needsRenewal(cert, 91 * DAY)).toBe(true);
  });

  it('renews a certificate that is not valid yet (a clock that went back)', () => {
    expect(needsRenewal(cert, -DAY)).toBe(true);
  });
});

describe('caBundle', () => {
  const [a, b, c] = [pem('A'), pem('B'), pem('C')];
  it('is the wanted CAs when nothing else was trusted', () => {
    expect(caBundle(a, undefined)).toBe(a);
    expect(caBundle(a, a)).toBe(a);
  });

  it('keeps trusting the CA it replaces, and only the newest such one (stable once written)', () => {
    expect(caBundle(b, a)).toBe(b + a);
    expect(caBundle(b, b + a)).toBe(b + a);
    expect(caBundle(c, b + a)).toBe(c + b);
  });

  it('keeps a wanted bundle of several CAs whole', () => {
    expect(pemBlocks(caBundle(a + b, c))).toEqual([a, b, c]);
  });
});

describe('certificateReloadPath', () => {
  it('alternates between two paths of the same file, so that every reload changes the value', () => {
    // CONFIG GET as the pool renders it (seen from redis-server 7.0.15).
    const first = certificateReloadPath('{"tls-cert-file":"/etc/redis-tls/tls.crt"}');
    expect(first).toBe('/etc/redis-tls/./tls.crt');
    expect(certificateReloadPath(JSON.stringify({ 'tls-cert-file': first }))).toBe('/etc/redis-tls/tls.crt');
  });
});
