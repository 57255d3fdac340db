// X.509 for the operator's own CA: a CA certificate and key, and server certificates it signs.
// Node can read certificates (X509Certificate) but not build them; @peculiar/x509 builds them over
// WebCrypto. ECDSA P-256 keys, PEM files (what Redis reads). Key generation draws randomness, so this
// lives outside src/plan; the decisions about certificates are in src/plan/tls.ts.
import 'reflect-metadata';
import { AsnConvert } from '@peculiar/asn1-schema';
import { GeneralName, GeneralSubtree, GeneralSubtrees, id_ce_nameConstraints, NameConstraints } from '@peculiar/asn1-x509';
import * as x509 from '@peculiar/x509';
import { createPrivateKey, randomBytes, X509Certificate } from 'node:crypto';
import { pemBlocks, type CertificateFacts, type KeyPair } from '../plan/tls.js';

export type { KeyPair } from '../plan/tls.js';

// Node's WebCrypto, typed as the DOM's (the global object is the same one).
x509.cryptoProvider.set(crypto);

const ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
const DAY_MS = 86_400_000;
/** Backdated a little: a peer whose clock runs behind still accepts a certificate issued just now. */
const BACKDATE_MS = 5 * 60_000;

/** A CA that may sign certificates for `permittedNames` only (DNS names, each with its subdomains,
 * RFC 5280 name constraints, critical) and for no IP address: its key, were it to leak, could not
 * impersonate anything else to a client that checks the chain (OpenSSL, hence Redis and Node, do). */
export async function createCertificateAuthority(commonName: string, nowMs: number, lifetimeDays: number, permittedNames: string[]): Promise<KeyPair> {
  const keys = await newKeys();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    ...validity(nowMs, lifetimeDays),
    name: [{ CN: [commonName] }],
    keys,
    signingAlgorithm: ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      new x509.Extension(id_ce_nameConstraints, true, nameConstraints(permittedNames)),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { cert: cert.toString('pem') + '\n', key: await pemKey(keys.privateKey) };
}

/** A certificate for the DNS names given, signed by the CA. Both usages: Redis
 * presents its server certificate as the client one on replication links too. */
export async function issueServerCertificate(ca: KeyPair, names: string[], nowMs: number, lifetimeDays: number): Promise<KeyPair> {
  const keys = await newKeys();
  const caCert = new x509.X509Certificate(ca.cert);
  const caKey = await crypto.subtle.importKey('pkcs8', createPrivateKey(ca.key).export({ type: 'pkcs8', format: 'der' }), ALGORITHM, false, ['sign']);
  const cert = await x509.X509CertificateGenerator.create({
    ...validity(nowMs, lifetimeDays),
    subject: [{ CN: [names[0] ?? 'redis'] }],
    issuer: caCert.subjectName,
    publicKey: keys.publicKey,
    signingKey: caKey,
    signingAlgorithm: ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyAgreement, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
      new x509.SubjectAlternativeNameExtension(names.map((n) => ({ type: 'dns' as const, value: n }))),
      await x509.AuthorityKeyIdentifierExtension.create(caCert),
    ],
  });
  return { cert: cert.toString('pem') + '\n', key: await pemKey(keys.privateKey) };
}

function nameConstraints(permitted: string[]): ArrayBuffer {
  const subtrees = (names: GeneralName[]) => new GeneralSubtrees(names.map((base) => new GeneralSubtree({ base })));
  return AsnConvert.serialize(
    new NameConstraints({
      permittedSubtrees: subtrees(permitted.map((dNSName) => new GeneralName({ dNSName }))),
      // Every IPv4 and IPv6 address (a prefix of length 0).
      excludedSubtrees: subtrees(['0.0.0.0/0', '::/0'].map((iPAddress) => new GeneralName({ iPAddress }))),
    }),
  );
}

/** The DNS names a CA certificate may sign for (its permitted name constraints); undefined when it has none. */
export function permittedNames(pem: string): string[] | undefined {
  const extension = new x509.X509Certificate(pem).getExtension(id_ce_nameConstraints);
  if (!extension) return undefined;
  const parsed = AsnConvert.parse(extension.value, NameConstraints);
  return (parsed.permittedSubtrees ?? []).flatMap((s) => (s.base.dNSName === undefined ? [] : [s.base.dNSName]));
}

/** What a PEM certificate says; undefined when it is not one. */
export function describeCertificate(pem: string): CertificateFacts | undefined {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(pem);
  } catch {
    return undefined;
  }
  const names = (cert.subjectAltName ?? '').split(', ').flatMap((entry) => {
    const match = /^(DNS|IP Address):(.*)$/.exec(entry);
    return match ? [match[2]!] : [];
  });
  return { fingerprint: cert.fingerprint256, notBeforeMs: Date.parse(cert.validFrom), notAfterMs: Date.parse(cert.validTo), names };
}

/** Why a certificate, its key and its CA bundle do not make a usable set; undefined when they do. */
export function checkKeyPair(pair: KeyPair, caBundle: string): string | undefined {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(pair.cert);
  } catch {
    return 'tls.crt holds no PEM certificate';
  }
  try {
    if (!cert.checkPrivateKey(createPrivateKey(pair.key))) return 'tls.key is not the key of tls.crt';
  } catch {
    return 'tls.key holds no PEM private key';
  }
  const cas = pemBlocks(caBundle).flatMap((pem) => {
    try {
      return [new X509Certificate(pem)];
    } catch {
      return [];
    }
  });
  if (cas.length === 0) return 'ca.crt holds no PEM certificate';
  if (!cas.some((ca) => cert.checkIssued(ca) && cert.verify(ca.publicKey))) return 'tls.crt is not signed by a CA of ca.crt';
  return undefined;
}

async function newKeys(): Promise<CryptoKeyPair> {
  return (await crypto.subtle.generateKey(ALGORITHM, true, ['sign', 'verify'])) as CryptoKeyPair;
}

async function pemKey(key: CryptoKey): Promise<string> {
  return x509.PemConverter.encode(await crypto.subtle.exportKey('pkcs8', key), 'PRIVATE KEY') + '\n';
}

function validity(nowMs: number, lifetimeDays: number) {
  // A random 128-bit serial, positive (high bit clear), as RFC 5280 asks of a CA.
  const serial = randomBytes(16);
  serial[0]! &= 0x7f;
  return {
    serialNumber: serial.toString('hex'),
    notBefore: new Date(nowMs - BACKDATE_MS),
    notAfter: new Date(nowMs + lifetimeDays * DAY_MS),
  };
}
