// The kubectl plugin, as a user runs it: bin/ on PATH, `kubectl rr ...` against the cluster under test.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../../hack/lib.js';
import { kubeconfigPath, kubectlPath } from './support/cluster.js';
import { createRR, getRR, operatorNamespace, waitReady } from './support/operator.js';

const fixture = operatorNamespace('plugin');

function kubectlRr(...args: string[]): { code: number | null; out: string } {
  const r = spawnSync(kubectlPath(), ['rr', ...args], {
    encoding: 'utf8',
    timeout: 300_000,
    env: { ...process.env, PATH: `${join(repoRoot, 'bin')}:${process.env['PATH']}`, KUBECONFIG: kubeconfigPath(), NO_COLOR: '1' },
  });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

describe('kubectl rr', () => {
  it('status, switchover (refused, then done) and restart, each reporting its outcome', async () => {
    const { ns } = fixture;
    await createRR(ns, 'plug', { replicas: 2 });
    await waitReady(ns, 'plug');
    const rr = await getRR(ns, 'plug');
    const primary = rr.status!.primary!;
    const replica = rr.status!.nodes!.find((n) => n.role === 'replica')!.name;

    const status = kubectlRr('status', 'plug', '-n', ns);
    expect(status.code, status.out).toBe(0);
    expect(status.out).toContain(primary);
    expect(status.out).toContain(replica);

    const refused = kubectlRr('switchover', 'plug', '-n', ns, '--to', 'plug-99');
    expect(refused.code, refused.out).toBe(1);
    expect(refused.out).toMatch(/not switched over: .*no such pod/);

    const done = kubectlRr('switchover', 'plug', '-n', ns, '--to', replica);
    expect(done.code, done.out).toBe(0);
    expect(done.out).toContain(`switched over: ${primary} -> ${replica}`);
    expect((await getRR(ns, 'plug')).status!.primary).toBe(replica);

    const restarted = kubectlRr('restart', 'plug', '-n', ns, '--timeout', '240');
    expect(restarted.code, restarted.out).toBe(0);
    expect(restarted.out).toMatch(/restarted: every pod runs revision/);
    const after = await getRR(ns, 'plug');
    expect(after.status!.updatedPods).toBe(3);

    const usage = kubectlRr('promote', 'plug');
    expect(usage.code).toBe(2);
    expect(usage.out).toMatch(/unknown command "promote"/);
  });
});
