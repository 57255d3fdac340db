// Where the e2e suite runs (test/e2e/support/where.ts): the local cluster unless RRO_E2E_KUBECONFIG
// is set, and the list of what is skipped elsewhere agrees with the skipIf calls in the test files.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../../../hack/lib.js';
import { operatorRunsInCluster, otherKubeconfig, runsOnLocalCluster, skipReport, SKIPPED_ELSEWHERE } from '../../e2e/support/where.js';

const E2E = join(repoRoot, 'test/e2e');
const source = (file: string) => readFileSync(join(E2E, file), 'utf8');
const flagOf = { elsewhere: '!localCluster', 'in-cluster': 'operatorInCluster' } as const;

describe('e2e: local cluster or another one', () => {
  it('runs on the local cluster unless RRO_E2E_KUBECONFIG names another one', () => {
    expect(runsOnLocalCluster({})).toBe(true);
    expect(runsOnLocalCluster({ RRO_E2E_KUBECONFIG: '' })).toBe(true);
    expect(runsOnLocalCluster({ RRO_E2E_OPERATOR: 'src/main.ts' })).toBe(true);
    expect(runsOnLocalCluster({ RRO_E2E_KUBECONFIG: '/tmp/kind/kubeconfig' })).toBe(false);
    expect(otherKubeconfig({ RRO_E2E_KUBECONFIG: '/tmp/kind/kubeconfig' })).toBe('/tmp/kind/kubeconfig');
  });

  it('RRO_E2E_OPERATOR=in-cluster means no operator process; any other value is an entry file', () => {
    expect(operatorRunsInCluster({ RRO_E2E_OPERATOR: 'in-cluster' })).toBe(true);
    expect(operatorRunsInCluster({ RRO_E2E_OPERATOR: 'old/src/main.ts' })).toBe(false);
    expect(operatorRunsInCluster({})).toBe(false);
  });

  it('every skipIf of the e2e files is in SKIPPED_ELSEWHERE, and every entry there is a skipIf', () => {
    const files = readdirSync(E2E).filter((f) => f.endsWith('.test.ts'));
    for (const s of SKIPPED_ELSEWHERE) expect(files, s.file).toContain(s.file);
    for (const file of files) {
      const text = source(file);
      const entries = SKIPPED_ELSEWHERE.filter((s) => s.file === file);
      const whole = entries.some((s) => s.tests === 'every test');
      if (whole) {
        // Every top-level describe is skipped, and there is no top-level test.
        expect(text, file).not.toMatch(/^(describe|it|test)(\.each\(.*?\))?\(/m);
        expect(text, file).toMatch(/^describe\.skipIf\(!localCluster\)\(/m);
        continue;
      }
      const listed = entries.flatMap((s) => (s.tests as string[]).map((t) => ({ t, flag: flagOf[s.when] })));
      const calls = [...text.matchAll(/\b(?:it|describe)\.skipIf\(([^)]*)\)\(\s*(['"])((?:\\.|(?!\2).)*)\2/g)].map((m) => ({
        t: m[3]!.replace(/\\(.)/g, '$1'),
        flag: m[1]!,
      }));
      expect(calls.sort((a, b) => a.t.localeCompare(b.t)), file).toEqual(listed.sort((a, b) => a.t.localeCompare(b.t)));
    }
  });

  it('the report global-setup prints names each skipped file, and the in-cluster skips only with RRO_E2E_OPERATOR=in-cluster', () => {
    const kind = skipReport({ RRO_E2E_KUBECONFIG: '/k', RRO_E2E_OPERATOR: 'in-cluster' });
    for (const s of SKIPPED_ELSEWHERE) expect(kind).toContain(`  ${s.file}: `);
    expect(kind).toContain('RRO_E2E_OPERATOR=in-cluster: the chart');
    expect(skipReport({ RRO_E2E_KUBECONFIG: '/k' })).not.toContain('RRO_E2E_OPERATOR=in-cluster: the chart');
  });
});
