// The pool against a local TLS server that answers +OK to every command: enough to see the
// handshake and the checks the operator makes of a pod's certificate.
import { createServer, type Server } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisCommands, RedisPool, redact, secretArguments, type RedisTarget } from '../../../src/redis/client.js';
import { createCertificateAuthority, describeCertificate, issueServerCertificate, type KeyPair } from '../../../src/tls/certificates.js';

const NOW = Date.now();
let ca: KeyPair;
let otherCa: KeyPair;
let server: KeyPair;
let tlsServer: Server;
let port: number;
const pool = new RedisPool({ connectMs: 500, commandMs: 500 });

beforeAll(async () => {
  ca = await createCertificateAuthority('test CA', NOW, 1, ['cache-primary', 'cache-primary.ns.svc']);
  otherCa = await createCertificateAuthority('other CA', NOW, 1, ['cache-primary', 'cache-primary.ns.svc']);
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

describe('secrets in Redis errors', () => {
  it('knows which arguments of a command are secrets', () => {
    expect(secretArguments(['ACL', 'SETUSER', 'default', 'on', 'resetpass', '>new', '<old', `#${'a'.repeat(64)}`, '!hash', '~app:*', '+get'])).toEqual(['new', 'old', 'a'.repeat(64), 'hash']);
    expect(secretArguments(['acl', 'setuser', '>odd-user-name', '+get'])).toEqual([]);
    expect(secretArguments(['CONFIG', 'SET', 'masterauth', 'rp', 'maxmemory', '1mb', 'REQUIREPASS', 'dp'])).toEqual(['rp', 'dp']);
    expect(secretArguments(['CONFIG', 'SET', 'maxmemory-policy', 'masterauth'])).toEqual([]);
    expect(secretArguments(['AUTH', 'user', 'pw'])).toEqual(['pw']);
    expect(secretArguments(['HELLO', '3', 'AUTH', 'user', 'pw', 'SETNAME', 'x'])).toEqual(['pw']);
    expect(secretArguments(['INFO', 'replication'])).toEqual([]);
  });

  it('takes every secret out of an error, also as Redis prints it (line breaks as spaces), keeping its class', () => {
    class Reply extends Error {}
    const err = redact(new Reply("ERR Error in ACL SETUSER modifier '<line one line two': does not exist"), ['line one\nline two', undefined, '']);
    expect(err).toBeInstanceOf(Reply);
    expect(err.message).toBe("ERR Error in ACL SETUSER modifier '<<redacted>': does not exist");
    expect(err.stack).not.toContain('line one');
    expect(redact('pw-in-a-string pw', ['pw-in-a-string', 'pw']).message).toBe('<redacted> <redacted>');
  });

  it('command() redacts what the command carries and the connection password, whatever the sender threw', async () => {
    class Echo extends RedisCommands {
      protected override async send(target: RedisTarget, args: string[]): Promise<string> {
        throw new Error(`ERR ${target.password} ${args.join(' ')}`);
      }
      override servedCertificate(): Promise<string> {
        throw new Error('not used');
      }
    }
    const echo = new Echo();
    await expect(echo.command({ host: 'h', password: 'conn-pw' }, ['ACL', 'SETUSER', 'default', '<old-pw'])).rejects.toThrow('ERR <redacted> ACL SETUSER default <<redacted>');
    await expect(echo.configSet({ host: 'h' }, 'masterauth', 'repl-pw')).rejects.toThrow('ERR undefined CONFIG SET masterauth <redacted>');
  });
});
