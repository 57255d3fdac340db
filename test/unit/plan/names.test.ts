import { describe, expect, it } from 'vitest';
import { parseSpec } from '../../../src/api/schema.js';
import {
  LABEL_MAX_LENGTH,
  MAX_RESOURCE_NAME_LENGTH,
  appliedAuthSecretName,
  baseLabels,
  dataClaimName,
  labelNamesOf,
  podName,
  primaryBudgetName,
  primaryServiceName,
  readServiceName,
  replicasBudgetName,
  tlsCaKeySecretName,
  tlsCaSecretName,
  tlsSecretName,
} from '../../../src/plan/names.js';

const DNS_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;

describe('the longest resource name', () => {
  it('is 63 less the longest suffix of a Service name: 55', () => {
    expect(Math.max(...labelNamesOf('').map((s) => s.length))).toBe('-primary'.length);
    expect(MAX_RESOURCE_NAME_LENGTH).toBe(63 - '-primary'.length);
    expect(MAX_RESOURCE_NAME_LENGTH).toBe(55);
  });

  it('gives Services that are DNS-1035 labels at 55 characters, and one that is too long at 56', () => {
    const longest = 'a'.repeat(MAX_RESOURCE_NAME_LENGTH);
    for (const service of [primaryServiceName(longest), readServiceName(longest)]) {
      expect(service.length, service).toBeLessThanOrEqual(LABEL_MAX_LENGTH);
      expect(service).toMatch(DNS_LABEL);
    }
    expect(primaryServiceName(`${longest}a`).length).toBe(LABEL_MAX_LENGTH + 1);
    // What the schema accepts, exactly.
    expect(parseSpec({}, longest).ok).toBe(true);
    expect(parseSpec({}, `${longest}a`).ok).toBe(false);
  });

  it('fits every other derived name in its kind at 55 characters: label values, pod numbers below 10 million, subdomains', () => {
    const longest = 'a'.repeat(MAX_RESOURCE_NAME_LENGTH);
    for (const value of Object.values(baseLabels(longest))) expect(value.length).toBeLessThanOrEqual(LABEL_MAX_LENGTH);
    // The pod's name is a label value (redis.replication.dev/pod) and its host name.
    expect(podName(longest, 9_999_999).length).toBe(LABEL_MAX_LENGTH);
    const subdomains = [dataClaimName(podName(longest, 9_999_999)), appliedAuthSecretName(longest), tlsSecretName(longest), tlsCaSecretName(longest), tlsCaKeySecretName(longest), primaryBudgetName(longest), replicasBudgetName(longest)];
    for (const name of subdomains) expect(name.length, name).toBeLessThanOrEqual(253);
  });
});
