import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CA_KEYS,
  CA_LIFETIME_DAYS,
  CA_OVERLAP_MS,
  caBundle,
  caRenewal,
  caStep,
  CERT_LIFETIME_DAYS,
  certificateReloadPath,
  copyUpdate,
  needsRenewal,
  newCaData,
  ownCaTrust,
  pemBlocks,
  planCertificate,
  serverNames,
  TLS_TIME_CHECK_MS,
  tlsDueInMs,
  tlsProblem,
  wantedMaterial,
  type CaState,
  type CertificateInput,
  type OwnCa,
} from '../../../src/plan/tls.js';

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

describe('caStep: the renewal of the operator\'s CA', () => {
  const NAMES = serverNames('cache', 'ns');
  const LIFE = CA_LIFETIME_DAYS * DAY;
  const current = { notBeforeMs: 0, notAfterMs: LIFE, permitted: NAMES };
  const state = (s: Partial<CaState> = {}): CaState => ({ current, previous: false, ...s });

  it('keeps a CA with the wanted name constraints until its last third', () => {
    expect(caStep(state(), NAMES, LIFE / 2, 0, true)).toBe('keep');
    expect(caStep(state(), NAMES, LIFE - LIFE / 3 + DAY, 0, true)).toBe('begin');
    expect(caStep(state(), NAMES, LIFE + DAY, 0, true)).toBe('begin');
  });

  it('begins at once for a CA without name constraints, or with other names', () => {
    expect(caStep(state({ current: { ...current, permitted: undefined } }), NAMES, DAY, 0, true)).toBe('begin');
    expect(caStep(state({ current: { ...current, permitted: NAMES.slice(1) } }), NAMES, DAY, 0, true)).toBe('begin');
    expect(caStep(state({ current: { ...current, permitted: [...NAMES].reverse() } }), NAMES, DAY, 0, true)).toBe('keep');
  });

  it('switches once the next CA was trusted for the overlap, or at once when the current one expired', () => {
    const next = { notBeforeMs: 3000 * DAY, notAfterMs: 3000 * DAY + LIFE };
    expect(caStep(state({ next }), NAMES, 3000 * DAY + CA_OVERLAP_MS - 1, 0, true)).toBe('keep');
    expect(caStep(state({ next }), NAMES, 3000 * DAY + CA_OVERLAP_MS, 0, true)).toBe('switch');
    expect(caStep(state({ next: { ...next, notBeforeMs: LIFE - DAY } }), NAMES, LIFE, 0, false)).toBe('switch');
  });

  it('drops the old CA only once every pod serves a certificate of the new one, for the overlap', () => {
    const s = state({ previous: true });
    expect(caStep(s, NAMES, DAY + CA_OVERLAP_MS, DAY, false)).toBe('keep');
    expect(caStep(s, NAMES, DAY + CA_OVERLAP_MS - 1, DAY, true)).toBe('keep');
    expect(caStep(s, NAMES, DAY + CA_OVERLAP_MS, DAY, true)).toBe('drop');
  });

  it('property: passes at most 30 days apart, from any start, issue from a valid CA trusted an overlap ahead, trust at most two, constrain the CA, and drop the old one an overlap after every pod serves the new', () => {
    fc.assert(
      fc.property(
        fc.boolean(),
        fc.integer({ min: 0, max: CA_LIFETIME_DAYS * 2 }),
        fc.array(fc.tuple(fc.integer({ min: 1, max: 30 }), fc.boolean()), { minLength: 1, maxLength: 400 }),
        (constrained, startDay, ticks) => {
          // A model of the Secret: CAs by creation time; the issuing one, the next, the previous.
          let ca: { current: number; next?: number; previous?: number } = { current: 0 };
          let permitted: string[] | undefined = constrained ? NAMES : undefined;
          let issuedAt = 0;
          let now = startDay * DAY;
          const validity = (t: number) => ({ notBeforeMs: t, notAfterMs: t + LIFE });
          // Then a lifetime and more of passes where every pod serves the wanted certificate.
          const settled: [number, boolean][] = Array.from({ length: 130 }, () => [30, true]);
          const settledFrom = now + ticks.reduce((sum, [d]) => sum + d * DAY, 0);
          for (const [days, served] of [...ticks, ...settled]) {
            now += days * DAY;
            const step = caStep(
              { current: { ...validity(ca.current), permitted }, next: ca.next === undefined ? undefined : validity(ca.next), previous: ca.previous !== undefined },
              NAMES,
              now,
              issuedAt,
              served,
            );
            if (step === 'begin') {
              expect(ca.next).toBeUndefined();
              expect(ca.previous).toBeUndefined();
              ca = { ...ca, next: now };
            } else if (step === 'switch') {
              // Issued from a CA that every peer was told to trust an overlap ago (or the old one had expired).
              expect(now - ca.next! >= CA_OVERLAP_MS || now >= ca.current + LIFE).toBe(true);
              ca = { current: ca.next!, previous: ca.current };
              permitted = NAMES;
              issuedAt = now;
            } else if (step === 'drop') {
              expect(served).toBe(true);
              expect(now - issuedAt).toBeGreaterThanOrEqual(CA_OVERLAP_MS);
              ca = { current: ca.current };
            }
            const trusted = [ca.current, ca.next, ca.previous].filter((t) => t !== undefined);
            expect(trusted.length).toBeLessThanOrEqual(2);
            // The issuing CA is valid, but in the pass that begins replacing an expired one.
            expect(now < ca.current + LIFE || step === 'begin').toBe(true);
            if (ca.previous !== undefined && now > settledFrom) expect(now - Math.max(issuedAt, settledFrom)).toBeLessThanOrEqual(CA_OVERLAP_MS + 30 * DAY);
          }
          expect(permitted).toEqual(NAMES);
        },
      ),
    );
  });
});

describe('planCertificate: keep the certificate <name>-tls holds, or issue one', () => {
  const NAMES = serverNames('cache', 'ns');
  const LIFE = CA_LIFETIME_DAYS * DAY;
  const NOW = 1000 * DAY;
  const ca: CaState = { current: { notBeforeMs: 0, notAfterMs: LIFE, permitted: NAMES }, previous: false };
  const facts = { fingerprint: 'AA', notBeforeMs: NOW - DAY, notAfterMs: NOW - DAY + CERT_LIFETIME_DAYS * DAY, names: NAMES };
  const good = { facts, faultWithCurrent: undefined, faultWithNext: undefined };
  const input = (over: Partial<CertificateInput> = {}): CertificateInput => ({ names: NAMES, nowMs: NOW, ca, applied: good, servedEverywhere: undefined, ...over });
  const nextCa = { notBeforeMs: NOW - CA_OVERLAP_MS, notAfterMs: NOW - CA_OVERLAP_MS + LIFE };

  const cases: [string, Partial<CertificateInput>, ReturnType<typeof planCertificate>['certificate']][] = [
    ['fresh, covering the names, of the current CA: kept', {}, { action: 'keep' }],
    ['none yet: issued', { applied: undefined }, { action: 'issue' }],
    ['tls.crt is no certificate', { applied: { ...good, facts: undefined } }, { action: 'reissue', reason: 'unreadable' }],
    ['in its last third', { nowMs: facts.notBeforeMs + 61 * DAY }, { action: 'reissue', reason: 'expiring' }],
    ['not valid yet (a clock that went back)', { nowMs: facts.notBeforeMs - 1 }, { action: 'reissue', reason: 'expiring' }],
    ['a name missing (the Services renamed)', { applied: { ...good, facts: { ...facts, names: NAMES.slice(1) } } }, { action: 'reissue', reason: 'namesChanged' }],
    ['another key, or not of the current CA', { applied: { ...good, faultWithCurrent: 'tls.key is not the key of tls.crt' } }, { action: 'reissue', reason: 'notOfIssuingCa', detail: 'tls.key is not the key of tls.crt' }],
    [
      'the renewal switches to the next CA this pass',
      { ca: { ...ca, next: nextCa }, applied: { ...good, faultWithNext: 'tls.crt is not signed by a CA of ca.crt' } },
      { action: 'reissue', reason: 'caChanged', detail: 'tls.crt is not signed by a CA of ca.crt' },
    ],
    ['on a switch, checked against the CA that issues from then on', { ca: { ...ca, next: nextCa }, applied: { ...good, faultWithCurrent: 'not of this one' } }, { action: 'keep' }],
    ['a CA renewal beginning leaves it alone', { ca: { ...ca, current: { ...ca.current, permitted: undefined } } }, { action: 'keep' }],
  ];
  it.each(cases)('%s', (_, over, certificate) => {
    expect(planCertificate(input(over)).certificate).toEqual(certificate);
  });

  it('steps the CA renewal as caStep does, from the certificate applied and whether every pod serves it', () => {
    const previous = { ca: { ...ca, previous: true }, nowMs: facts.notBeforeMs + CA_OVERLAP_MS };
    expect(planCertificate(input(previous)).caStep).toBe('keep');
    expect(planCertificate(input({ ...previous, servedEverywhere: 'BB' })).caStep).toBe('keep');
    expect(planCertificate(input({ ...previous, servedEverywhere: 'AA' })).caStep).toBe('drop');
    expect(planCertificate(input({ ...previous, servedEverywhere: 'AA', applied: undefined })).caStep).toBe('keep');
    expect(planCertificate(input({ ca: { ...ca, next: nextCa } })).caStep).toBe('switch');
  });

  it('property: a certificate that covers the names, is far from expiry and is a pair of the issuing CA is always kept; any other is replaced', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2 * CERT_LIFETIME_DAYS * DAY }),
        fc.integer({ min: 0, max: 3 * LIFE }),
        fc.oneof(fc.constant(NAMES), fc.subarray(NAMES)),
        fc.boolean(),
        fc.boolean(),
        fc.option(fc.integer({ min: 0, max: 3 * LIFE }), { nil: undefined }),
        fc.boolean(),
        (age, now, covered, ofCurrent, ofNext, nextSince, previous) => {
          const issued = { ...facts, notBeforeMs: now - age, notAfterMs: now - age + CERT_LIFETIME_DAYS * DAY, names: covered };
          const state: CaState = { ...ca, next: nextSince === undefined ? undefined : { notBeforeMs: nextSince, notAfterMs: nextSince + LIFE }, previous };
          const plan = planCertificate({ names: NAMES, nowMs: now, ca: state, applied: { facts: issued, faultWithCurrent: ofCurrent ? undefined : 'x', faultWithNext: ofNext ? undefined : 'y' }, servedEverywhere: undefined });
          const issuer = plan.caStep === 'switch' ? ofNext : ofCurrent;
          const usable = age <= (2 / 3) * CERT_LIFETIME_DAYS * DAY && covered.length === NAMES.length && issuer;
          expect(plan.certificate.action).toBe(usable ? 'keep' : 'reissue');
        },
      ),
    );
  });
});

describe('caRenewal: the keys of <name>-tls-ca-key each step writes', () => {
  const [a, b, c] = [{ cert: pem('A'), key: 'ka' }, { cert: pem('B'), key: 'kb' }, { cert: pem('C'), key: 'kc' }];
  const own: OwnCa = { current: a, next: undefined, previous: undefined };

  it('begin: the new CA is trusted beside the current one, which still issues', () => {
    const step = caRenewal(own, { step: 'begin', made: b })!;
    expect(step.ca).toEqual({ current: a, next: b, previous: undefined });
    expect(step.data).toEqual({ [CA_KEYS.nextCert]: b.cert, [CA_KEYS.nextKey]: 'kb' });
    expect(ownCaTrust(step.ca)).toEqual({ bundle: a.cert + b.cert, renewing: true });
  });

  it('switch: the next CA issues, the old one stays trusted; the next keys are emptied (a merge patch cannot remove them)', () => {
    const step = caRenewal({ ...own, next: b }, { step: 'switch' })!;
    expect(step.ca).toEqual({ current: b, next: undefined, previous: a.cert });
    expect(step.data).toEqual({ [CA_KEYS.cert]: b.cert, [CA_KEYS.key]: 'kb', [CA_KEYS.nextCert]: '', [CA_KEYS.nextKey]: '', [CA_KEYS.previous]: a.cert });
    expect(ownCaTrust(step.ca)).toEqual({ bundle: b.cert + a.cert, renewing: true });
    expect(caRenewal(own, { step: 'switch' })).toBeUndefined();
  });

  it('drop: the old CA is no longer trusted', () => {
    const step = caRenewal({ current: c, next: undefined, previous: b.cert }, { step: 'drop' })!;
    expect(step.ca).toEqual({ current: c, next: undefined, previous: undefined });
    expect(step.data).toEqual({ [CA_KEYS.previous]: '' });
    expect(ownCaTrust(step.ca)).toEqual({ bundle: c.cert, renewing: false });
  });

  it('a new CA: its certificate and key', () => {
    expect(newCaData(a)).toEqual({ 'ca.crt': a.cert, 'ca.key': 'ka' });
  });
});

describe('<name>-tls: what it is written with', () => {
  const [a, b] = [pem('A'), pem('B')];
  const applied = { cert: 'c1', key: 'k1', ca: a };

  it('issued when it does not exist, renewed when anything changed, left alone when nothing did', () => {
    expect(copyUpdate(undefined, applied)).toEqual({ data: { 'tls.crt': 'c1', 'tls.key': 'k1', 'ca.crt': a }, event: { reason: 'CertificateIssued', message: 'TLS certificate issued' } });
    for (const next of [{ ...applied, cert: 'c2' }, { ...applied, key: 'k2' }, { ...applied, ca: b }]) {
      expect(copyUpdate(applied, next)?.event).toEqual({ reason: 'CertificateRenewed', message: 'TLS certificate renewed: the pods re-read it, no pod restarts' });
    }
    expect(copyUpdate(applied, { ...applied })).toBeUndefined();
  });

  it("a user's Secret: its new CA is trusted beside the applied one; the own CA's bundle is taken whole", () => {
    expect(wantedMaterial({ cert: 'c2', key: 'k2', ca: b }, applied, true)).toEqual({ cert: 'c2', key: 'k2', ca: b + a });
    expect(wantedMaterial({ cert: 'c2', key: 'k2', ca: b }, applied, false)).toEqual({ cert: 'c2', key: 'k2', ca: b });
    expect(wantedMaterial({ cert: 'c2', key: 'k2', ca: b }, undefined, true).ca).toBe(b);
  });

  it('a problem says what it means for the pods', () => {
    const problem = { reason: 'SecretMissing', message: 'Secret certs does not exist' };
    expect(tlsProblem(problem, true)).toEqual({ reason: 'SecretMissing', message: 'Secret certs does not exist; the pods keep the certificate they have' });
    expect(tlsProblem(problem, false).message).toBe('Secret certs does not exist; no pod is created until it is fixed');
  });
});

describe('tlsDueInMs', () => {
  const DAY = 86_400_000;
  const cert = { notBeforeMs: 0, notAfterMs: 90 * DAY };

  it('the time until a third of the lifetime is left, looked at once a day at most; none once due (that pass renews it)', () => {
    expect(tlsDueInMs(cert, 59.5 * DAY)).toBe(0.5 * DAY);
    expect(tlsDueInMs(cert, 10 * DAY)).toBe(TLS_TIME_CHECK_MS);
    // At the moment itself: at once (needsRenewal says so a millisecond later).
    expect(tlsDueInMs(cert, 60 * DAY)).toBe(0);
    expect(tlsDueInMs(cert, 61 * DAY)).toBeUndefined();
    // A certificate not valid yet (a clock that went back) is renewed at once too.
    expect(tlsDueInMs(cert, -1)).toBeUndefined();
    for (const now of [1, 30 * DAY, 59 * DAY, 60 * DAY - 1, 60 * DAY + 1, 80 * DAY]) expect(tlsDueInMs(cert, now) === undefined).toBe(needsRenewal(cert, now));
  });
});
