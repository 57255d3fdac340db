import { createPrivateKey, X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { checkKeyPair, createCertificateAuthority, describeCertificate, issueServerCertificate } from '../../../src/tls/certificates.js';

const NOW = Date.UTC(2026, 11, 1);
const DAY = 86_400_000;

describe('the operator CA', () => {
  it('is a self-signed CA certificate with its PEM private key', async () => {
    const ca = await createCertificateAuthority('cache CA', NOW, 3650);
    const cert = new X509Certificate(ca.cert);
    expect(cert.ca).toBe(true);
    expect(cert.subject).toBe('CN=cache CA');
    expect(cert.checkPrivateKey(createPrivateKey(ca.key))).toBe(true);
    expect(ca.key).toMatch(/^-----BEGIN PRIVATE KEY-----\n[\s\S]*\n-----END PRIVATE KEY-----\n$/);
    expect(Date.parse(cert.validTo) - NOW).toBe(3650 * DAY);
  });

  it('issues server certificates for the names given, signed by it, usable by a server and a client', async () => {
    const ca = await createCertificateAuthority('cache CA', NOW, 3650);
    const server = await issueServerCertificate(ca, ['cache-primary', 'cache-primary.ns.svc'], NOW, 90);
    const cert = new X509Certificate(server.cert);
    expect(cert.ca).toBe(false);
    expect(cert.checkIssued(new X509Certificate(ca.cert))).toBe(true);
    expect(cert.verify(new X509Certificate(ca.cert).publicKey)).toBe(true);
    expect(cert.checkHost('cache-primary.ns.svc')).toBe('cache-primary.ns.svc');
    expect(cert.checkHost('other')).toBeUndefined();
    expect(cert.keyUsage).toEqual(expect.arrayContaining(['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']));
    expect(checkKeyPair(server, ca.cert)).toBeUndefined();
    expect(describeCertificate(server.cert)).toMatchObject({ names: ['cache-primary', 'cache-primary.ns.svc'], notAfterMs: NOW + 90 * DAY, fingerprint: cert.fingerprint256 });
    // Backdated a little for peers whose clock runs behind.
    expect(describeCertificate(server.cert)!.notBeforeMs).toBeLessThan(NOW);
  });
});

describe('checkKeyPair', () => {
  it('names what is wrong: not a certificate, a foreign key, a foreign CA, no CA', async () => {
    const ca = await createCertificateAuthority('a', NOW, 10);
    const other = await createCertificateAuthority('b', NOW, 10);
    const server = await issueServerCertificate(ca, ['x'], NOW, 1);
    expect(checkKeyPair({ cert: 'junk', key: server.key }, ca.cert)).toBe('tls.crt holds no PEM certificate');
    expect(checkKeyPair({ cert: server.cert, key: other.key }, ca.cert)).toBe('tls.key is not the key of tls.crt');
    expect(checkKeyPair({ cert: server.cert, key: 'junk' }, ca.cert)).toBe('tls.key holds no PEM private key');
    expect(checkKeyPair(server, other.cert)).toBe('tls.crt is not signed by a CA of ca.crt');
    expect(checkKeyPair(server, '')).toBe('ca.crt holds no PEM certificate');
    // A bundle that holds the issuer among others is fine.
    expect(checkKeyPair(server, other.cert + ca.cert)).toBeUndefined();
  });

  it('describes nothing that is not a certificate', () => {
    expect(describeCertificate('junk')).toBeUndefined();
  });
});
