import { createPrivateKey, X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { connect, createServer } from 'node:tls';
import { describe, expect, it } from 'vitest';
import { checkKeyPair, createCertificateAuthority, describeCertificate, issueServerCertificate, permittedNames, type KeyPair } from '../../../src/tls/certificates.js';

const NOW = Date.UTC(2026, 11, 1);
const DAY = 86_400_000;
const NAMES = ['cache-primary', 'cache-primary.ns.svc'];

/** A TLS handshake on loopback with OpenSSL's chain check (name constraints included); its error message, or 'ok'. */
async function handshake(ca: string, server: KeyPair, servername: string): Promise<string> {
  const tlsServer = createServer({ cert: server.cert, key: server.key }, (socket) => socket.end());
  tlsServer.listen(0, '127.0.0.1');
  await once(tlsServer, 'listening');
  try {
    const socket = connect({ host: '127.0.0.1', port: (tlsServer.address() as AddressInfo).port, ca, servername });
    const outcome = await new Promise<string>((resolve) => {
      socket.once('secureConnect', () => resolve('ok'));
      socket.once('error', (err: Error) => resolve(err.message));
    });
    socket.destroy();
    return outcome;
  } finally {
    tlsServer.close();
  }
}

describe('the operator CA', () => {
  it('is a self-signed CA certificate with its PEM private key', async () => {
    const ca = await createCertificateAuthority('cache CA', NOW, 3650, NAMES);
    const cert = new X509Certificate(ca.cert);
    expect(cert.ca).toBe(true);
    expect(cert.subject).toBe('CN=cache CA');
    expect(cert.checkPrivateKey(createPrivateKey(ca.key))).toBe(true);
    expect(ca.key).toMatch(/^-----BEGIN PRIVATE KEY-----\n[\s\S]*\n-----END PRIVATE KEY-----\n$/);
    expect(Date.parse(cert.validTo) - NOW).toBe(3650 * DAY);
  });

  it('issues server certificates for the names given, signed by it, usable by a server and a client', async () => {
    const ca = await createCertificateAuthority('cache CA', NOW, 3650, NAMES);
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

describe('name constraints of the operator CA', () => {
  it('permits exactly the names given, and a TLS client refuses a certificate of that CA for any other name', async () => {
    const ca = await createCertificateAuthority('cache CA', NOW, 3650, NAMES);
    expect(permittedNames(ca.cert)).toEqual(NAMES);
    const inside = await issueServerCertificate(ca, ['cache-primary.ns.svc'], Date.now(), 1);
    expect(await handshake(ca.cert, inside, 'cache-primary.ns.svc')).toBe('ok');
    // The CA's key signs for another name (as a leaked key would): the chain check fails, not only the name check.
    const outside = await issueServerCertificate(ca, ['kubernetes.default.svc'], Date.now(), 1);
    expect(await handshake(ca.cert, outside, 'kubernetes.default.svc')).toBe('permitted subtree violation');
  });

  it('a certificate without name constraints has none', async () => {
    const ca = await createCertificateAuthority('cache CA', NOW, 3650, NAMES);
    expect(permittedNames((await issueServerCertificate(ca, ['x'], NOW, 1)).cert)).toBeUndefined();
  });
});

describe('checkKeyPair', () => {
  it('names what is wrong: not a certificate, a foreign key, a foreign CA, no CA', async () => {
    const ca = await createCertificateAuthority('a', NOW, 10, ['x']);
    const other = await createCertificateAuthority('b', NOW, 10, ['x']);
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
