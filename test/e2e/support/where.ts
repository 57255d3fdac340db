// Where the e2e suite runs: the project's own local cluster (the default: global-setup starts it),
// or any cluster a kubeconfig names (RRO_E2E_KUBECONFIG, e.g. a kind cluster: test/e2e/kind/run.sh).
// Elsewhere, the tests that need the local cluster's own machinery are skipped (`it.skipIf(!localCluster)`,
// `describe.skipIf(!localCluster)`); SKIPPED_ELSEWHERE says which and why, and global-setup prints it.
// No vitest import here: global-setup and the unit tests load this module too.

type Env = Record<string, string | undefined>;

/** The kubeconfig of another cluster to run the suite against, if one is given. */
export function otherKubeconfig(env: Env = process.env): string | undefined {
  return env['RRO_E2E_KUBECONFIG'] || undefined;
}

/** Whether the suite runs on the project's local cluster (no RRO_E2E_KUBECONFIG). */
export function runsOnLocalCluster(env: Env = process.env): boolean {
  return otherKubeconfig(env) === undefined;
}

/** True on the local cluster; false with RRO_E2E_KUBECONFIG, where tests that need the local node
 * agent's faults or internals, or pod/Service IPs reachable from this machine, are skipped. */
export const localCluster = runsOnLocalCluster();

/** RRO_E2E_OPERATOR=in-cluster: the operator already runs in the cluster (installed from the chart,
 * watching every namespace); the suite starts no operator process of its own. Any other value is an
 * entry file to run as the operator (e.g. an earlier commit's src/main.ts). */
export function operatorRunsInCluster(env: Env = process.env): boolean {
  return env['RRO_E2E_OPERATOR'] === 'in-cluster';
}

export const operatorInCluster = operatorRunsInCluster();

/** Why a test cannot run elsewhere. */
export const WHY = {
  faults:
    "needs the local node agent's faults: SIGKILL/SIGSTOP of container processes, network partitions, node-down, an API server restart",
  internals:
    "needs the local node agent's internals: its pod state, /proc of pod processes on this machine, the local server binaries " +
    '(hack/local-cluster/node-agent/servers.ts), .cluster/logs',
  podIPs: 'talks to pod/Service IPs from the test process (reachable from this machine on the local cluster, not from the host of a kind cluster)',
  ownOperator: 'needs an operator process of its own (its output, or killed at a chosen point)',
  prometheus: "needs the local cluster's Prometheus (RRO_PROMETHEUS=1), which scrapes an operator process of this machine",
  otherOperator:
    "RRO_E2E_OPERATOR=in-cluster: the chart's operator watches every namespace (and owns the namespace redis-replication-operator), " +
    'so it, not the install under test, would reconcile the resource',
} as const;

export interface Skipped {
  file: string;
  /** The titles of the skipped tests (as given to it.skipIf / describe.skipIf), or every test of the file. */
  tests: 'every test' | string[];
  why: (typeof WHY)[keyof typeof WHY][];
  /** `elsewhere`: skipped whenever RRO_E2E_KUBECONFIG is set (`!localCluster`); `in-cluster`: only with
   * RRO_E2E_OPERATOR=in-cluster too (`operatorInCluster`). */
  when: 'elsewhere' | 'in-cluster';
}

export const SKIPPED_ELSEWHERE: Skipped[] = [
  {
    file: 'acl.test.ts',
    tests: ['operator, replication and app users each run only what they need; replicas link as the replication user'],
    why: [WHY.podIPs, WHY.internals, WHY.ownOperator],
    when: 'elsewhere',
  },
  {
    file: 'bad-specs.test.ts',
    tests: ['an image the node cannot run: PodsRunning=False quotes the waiting reason'],
    // redis:5.0 is missing only on the local cluster's nodes; a real node pulls it and runs it.
    why: [WHY.internals],
    when: 'elsewhere',
  },
  { file: 'api-server.test.ts', tests: 'every test', why: [WHY.faults, WHY.ownOperator], when: 'elsewhere' },
  { file: 'alerts.test.ts', tests: 'every test', why: [WHY.prometheus, WHY.faults, WHY.podIPs], when: 'elsewhere' },
  { file: 'backlog.test.ts', tests: 'every test', why: [WHY.faults, WHY.podIPs], when: 'elsewhere' },
  // The local cluster's object store (.cluster/s3.env), pod IPs, and a server on this machine.
  { file: 'backup.test.ts', tests: 'every test', why: [WHY.internals, WHY.podIPs], when: 'elsewhere' },
  { file: 'pitr.test.ts', tests: 'every test', why: [WHY.internals, WHY.faults, WHY.podIPs], when: 'elsewhere' },
  { file: 'cluster.test.ts', tests: 'every test', why: [WHY.internals, WHY.faults, WHY.podIPs], when: 'elsewhere' },
  { file: 'day2.test.ts', tests: 'every test', why: [WHY.podIPs, WHY.faults], when: 'elsewhere' },
  { file: 'failover.test.ts', tests: 'every test', why: [WHY.faults, WHY.podIPs, WHY.ownOperator], when: 'elsewhere' },
  {
    file: 'install.test.ts',
    tests: [
      '/metrics of the in-cluster operator (pod IP, port 8080) shows replication lag for the replicas',
      'a leader that stops answering (SIGSTOP, no release of the Lease) is replaced within the lease duration',
    ],
    why: [WHY.podIPs, WHY.faults],
    when: 'elsewhere',
  },
  {
    file: 'install.test.ts',
    tests: [
      'a RedisReplication (replicas 1) in the watched namespace reaches Ready through the in-cluster operator',
      'helm upgrade (logLevel warn) rolls the operator; the resource stays Ready and is still reconciled',
      'applies, the operator becomes Ready and brings a RedisReplication to Ready, then deletes cleanly',
      'exactly one pod holds the Lease; when it is deleted the other takes over within the lease duration',
    ],
    why: [WHY.otherOperator],
    when: 'in-cluster',
  },
  { file: 'node-loss.test.ts', tests: 'every test', why: [WHY.faults, WHY.podIPs], when: 'elsewhere' },
  { file: 'ready.test.ts', tests: 'every test', why: [WHY.faults, WHY.podIPs], when: 'elsewhere' },
  { file: 'nodes.test.ts', tests: 'every test', why: [WHY.internals, WHY.faults, WHY.podIPs], when: 'elsewhere' },
  {
    file: 'operator.test.ts',
    tests: [
      'replicates keys written to the primary to every pod of every tier',
      'shows for every replica the parent that INFO on that pod reports, and replicas are read-only',
      'routes <name>-primary to the primary and <name>-read to exactly the read-eligible pods',
      'causes no status write while idle and Ready, over a minute, and keeps its Redis connections open',
      'reaches Ready; a client without the password is refused, one with it is served',
      're-creates a deleted replica on its own PVC, with its data',
    ],
    why: [WHY.podIPs],
    when: 'elsewhere',
  },
  { file: 'safety.test.ts', tests: 'every test', why: [WHY.faults, WHY.podIPs], when: 'elsewhere' },
  { file: 'security.test.ts', tests: 'every test', why: [WHY.internals, WHY.podIPs], when: 'elsewhere' },
  // The second test patches the resource the first one makes Ready.
  { file: 'tls.test.ts', tests: 'every test', why: [WHY.podIPs], when: 'elsewhere' },
  { file: 'versions.test.ts', tests: 'every test', why: [WHY.internals, WHY.podIPs], when: 'elsewhere' },
];

/** The block global-setup prints when the suite runs elsewhere: what is skipped there, and why. */
export function skipReport(env: Env = process.env): string {
  const inCluster = operatorRunsInCluster(env);
  const lines = [
    `[e2e] running against the cluster of RRO_E2E_KUBECONFIG=${otherKubeconfig(env)}, not the local cluster` +
      (inCluster ? '; the operator already runs in it (RRO_E2E_OPERATOR=in-cluster)' : '; the suite starts operator processes on this machine'),
    '[e2e] skipped there:',
  ];
  for (const s of SKIPPED_ELSEWHERE) {
    if (s.when === 'in-cluster' && !inCluster) continue;
    const what = s.tests === 'every test' ? 'every test' : `${s.tests.length} test(s)`;
    lines.push(`  ${s.file}: ${what}`);
    if (s.tests !== 'every test') for (const t of s.tests) lines.push(`    - ${t}`);
    for (const w of s.why) lines.push(`    why: ${w}`);
  }
  if (!inCluster) {
    lines.push(
      '[e2e] note: without RRO_E2E_OPERATOR=in-cluster the operator runs on this machine and must reach the pod IPs ' +
        '(not so with kind: use test/e2e/kind/run.sh, which installs the chart and sets RRO_E2E_OPERATOR=in-cluster)',
    );
  }
  return lines.join('\n');
}
