// The pool against a local TLS server that answers +OK to every command: enough to see the
// handshake and the checks the operator makes of a pod's certificate.
import { createServer, type Server } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisPool } from '../../../src/redis/client.js';
import { createCertificateAuthority, describeCertificate, issueServerCertificate, type KeyPair } from '../../../src/tls/certificates.js';

const NOW = Date.now();
let ca: KeyPair;
let otherCa: KeyPair;
let server: KeyPair;
let tlsServer: Server;
let port: number;
const pool = new RedisPool({ connectMs: 500, commandMs: 500 });

beforeAll(async () => {
  ca = await createCertificateAuthority('test CA', NOW, 1);
  otherCa = await createCertificateAuthority('other CA', NOW, 1);
  server = await issueServerCertificate(ca, ['cache-primary', 'cache-primary.ns.svc'], NOW, 1);
  tlsServer = createServer({ cert: server.cert, key: server.key }, (socket) => {
    socket.on('data', (chunk) => socket.write('+OK\r\n'.repeat(chunk.toString().match(/^\*\d+\r$/gm)?.length ?? 0)));
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => tlsServer.listen(0, '127.0.0.1', resolve));
  port = (tlsServer.address() as AddressInfo).port;
});

afterAll(async () => {
  await pool.close();
  tlsServer.close();
});

const target = (tls: { ca: string; serverNames: string[] } | undefined) => ({ host: '127.0.0.1', port, password: 'pw', ...(tls ? { tls } : {}) });

describe('RedisPool over TLS', () => {
  it('connects by IP, trusting the CA and checking the certificate names one of the expected names', async () => {
    await expect(pool.command(target({ ca: ca.cert, serverNames: ['nothing', 'cache-primary.ns.svc'] }), ['PING'])).resolves.toBe('OK');
  });

  it('refuses a certificate that names none of the expected names', async () => {
    await expect(pool.command(target({ ca: ca.cert, serverNames: ['cache-read'] }), ['PING'])).rejects.toThrow(/cache-read|altnames/i);
  });

  it('refuses a certificate of a CA it does not trust', async () => {
    await expect(pool.command(target({ ca: otherCa.cert, serverNames: ['cache-primary'] }), ['PING'])).rejects.toThrow();
  });

  it('reports the fingerprint of the certificate served to a new connection', async () => {
    await expect(pool.servedCertificate({ ...target(undefined), tls: { ca: ca.cert, serverNames: ['cache-primary'] } })).resolves.toBe(
      describeCertificate(server.cert)!.fingerprint,
    );
    await expect(pool.servedCertificate({ ...target(undefined), tls: { ca: otherCa.cert, serverNames: ['cache-primary'] } })).rejects.toThrow();
  });

  it('gets no answer speaking plain TCP to it', async () => {
    await expect(pool.command(target(undefined), ['PING'])).rejects.toThrow();
  });
});
