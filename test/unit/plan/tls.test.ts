import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CA_LIFETIME_DAYS, CA_OVERLAP_MS, caBundle, caStep, certificateReloadPath, needsRenewal, pemBlocks, serverNames, type CaState } from '../../../src/plan/tls.js';

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
