// Runs the operator as a child process (as `npm start` does) against the cluster under test
// (unless RRO_E2E_OPERATOR=in-cluster), and helpers to drive RedisReplications from tests.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream, mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { DiscoveryV1Api } from '@kubernetes/client-node';
import { createClient } from 'redis';
import { BACKUP_PLURAL } from '../../../src/api/backup.js';
import { GROUP, PLURAL, VERSION, type RedisReplication } from '../../../src/api/schema.js';
import { LABEL } from '../../../src/plan/names.js';
import { makeClients } from '../../../src/kube/client.js';
import { OPERATOR_NODE_FLAGS, repoRoot, run, type RunResult } from '../../../hack/lib.js';
import { BRIDGE_IP } from '../../../hack/local-cluster/common.js';
import { afterAll, beforeAll } from 'vitest';
import { clusterPaths, createNamespace, kubeConfig, kubeconfigPath, kubectl, operatorInCluster, waitFor } from './cluster.js';

export interface OperatorProcess {
  child: ChildProcess;
  output: () => string;
  /** SIGTERM and wait for a clean exit. */
  stop(): Promise<number | null>;
  /** SIGKILL: the operator dies wherever it is. */
  kill(): Promise<void>;
}

/** `entry`: the operator's entry file; a built one (dist/main.js, as the image runs it) needs no
 * TypeScript loader. */
export function startOperator(env: Record<string, string> = {}, entry = process.env['RRO_E2E_OPERATOR'] ?? 'src/main.ts'): OperatorProcess {
  // RRO_TEST_CRASH_AT makes the operator die at a point of a role change (see crash-at.ts).
  const crash = env['RRO_TEST_CRASH_AT'] ? ['--import', './test/e2e/support/crash-at.ts'] : [];
  // RRO_E2E_OPERATOR runs another build of the operator (an entry file) against the same tests,
  // e.g. an earlier commit's src/main.ts, to see a test fail on the bug it is named after.
  // (RRO_E2E_OPERATOR=in-cluster means no process at all: see operatorInCluster.)
  if (operatorInCluster) throw new Error('RRO_E2E_OPERATOR=in-cluster: the operator runs in the cluster; this test needs a process of its own');
  const loader = entry.endsWith('.js') ? [] : ['--import', 'tsx'];
  const child = spawn(process.execPath, [...OPERATOR_NODE_FLAGS, ...loader, ...crash, entry], {
    cwd: repoRoot,
    // Restores: pods reach this machine at the bridge's address; any free port (files run side by side).
    env: { ...process.env, KUBECONFIG: kubeconfigPath(), METRICS_PORT: '0', LOG_LEVEL: 'info', RESTORE_ADDRESS: BRIDGE_IP, RESTORE_PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  // The whole log also goes under the cluster's logs, which npm test prints the end of on failure.
  const logDir = clusterPaths().logs;
  mkdirSync(logDir, { recursive: true });
  const file = createWriteStream(resolve(logDir, `operator-${child.pid}.log`));
  child.once('exit', () => file.end());
  const keep = (chunk: Buffer) => {
    out = (out + chunk.toString()).slice(-200_000);
    file.write(chunk);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  return {
    child,
    output: () => out,
    async stop() {
      if (child.exitCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      return exited;
    },
    async kill() {
      if (child.exitCode !== null) return;
      child.kill('SIGKILL');
      await exited;
    },
  };
}

export async function installCrd(): Promise<void> {
  await kubectl(['apply', '--server-side', '--force-conflicts', '-f', resolve(repoRoot, 'crds')]);
  await kubectl(['wait', '--for=condition=Established', '--timeout=60s', `crd/${PLURAL}.${GROUP}`, `crd/${BACKUP_PLURAL}.${GROUP}`]);
}

export function api() {
  const kc = kubeConfig();
  return { ...makeClients(kc), discovery: kc.makeApiClient(DiscoveryV1Api) };
}

export async function getRR(namespace: string, name: string): Promise<RedisReplication> {
  return (await api().custom.getNamespacedCustomObject({ group: GROUP, version: VERSION, plural: PLURAL, namespace, name })) as RedisReplication;
}

/** Creates a resource; without `auth` in `spec`, with auth off: the tests that leave it out are about
 * other things and talk to Redis without a password. The default (a generated password) is tested on
 * its own, with a resource created without this helper (security.test.ts). */
export async function createRR(namespace: string, name: string, spec: Record<string, unknown>): Promise<void> {
  await api().custom.createNamespacedCustomObject({
    group: GROUP,
    version: VERSION,
    plural: PLURAL,
    namespace,
    body: { apiVersion: `${GROUP}/${VERSION}`, kind: 'RedisReplication', metadata: { name }, spec: { auth: { enabled: false }, ...spec } },
  });
}

export async function waitReady(namespace: string, name: string, timeoutMs = 120_000): Promise<RedisReplication> {
  let last: RedisReplication | undefined;
  await waitFor(
    async () => {
      last = await getRR(namespace, name);
      const ready = last.status?.conditions?.find((c) => c.type === 'Ready');
      return last.status?.phase === 'Ready' && ready?.status === 'True' && last.status.observedGeneration === last.metadata.generation;
    },
    { timeoutMs, intervalMs: 250, what: `${namespace}/${name} Ready (last status: ${JSON.stringify(last?.status ?? {})})` },
  );
  return last!;
}

/** An ACL user and its password. */
export interface RedisUser {
  username: string;
  password: string;
}

/** Runs one Redis command against a pod or Service IP (or a Sentinel's port) and returns the reply;
 * `auth` is the default user's password, or an ACL user. */
export async function redisCommand(host: string, args: string[], auth?: string | RedisUser, port = 6379): Promise<unknown> {
  const credentials = typeof auth === 'string' ? { password: auth } : auth;
  const client = createClient({ socket: { host, port, connectTimeout: 2000, reconnectStrategy: false }, ...credentials, RESP: 2 });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return await client.sendCommand(args);
  } finally {
    client.destroy();
  }
}

/** redis-cli on this machine against a pod or Service IP; with `cacert`, over TLS trusting that CA
 * file only. Never throws: the exit code and what it printed. */
export async function redisCli(host: string, args: string[], opts: { password?: string; cacert?: string } = {}): Promise<RunResult> {
  const tls = opts.cacert ? ['--tls', '--cacert', opts.cacert] : [];
  const auth = opts.password ? ['-a', opts.password, '--no-auth-warning'] : [];
  return run('redis-cli', [...tls, '-h', host, '-p', '6379', ...auth, ...args], { timeoutMs: 10_000 });
}

/** A Secret of `namespace` that allows `resource` to use it: the label the operator asks of a Secret a
 * spec names (src/plan/secrets.ts). */
export async function createAllowedSecret(namespace: string, name: string, resource: string, stringData: Record<string, string>): Promise<void> {
  await api().core.createNamespacedSecret({ namespace, body: { metadata: { name, labels: { [LABEL.allow]: resource } }, stringData } });
}

/** The decoded value of a Secret's key, undefined when the key is missing. */
export async function secretValue(namespace: string, name: string, key: string): Promise<string | undefined> {
  const secret = await api().core.readNamespacedSecret({ namespace, name });
  const data = secret.data?.[key];
  return data === undefined ? undefined : Buffer.from(data, 'base64').toString('utf8');
}

/** A namespace of its own with an operator watching it, for the tests of one file: set up before
 * them (`prepare` runs between the two), torn down after. With RRO_E2E_OPERATOR=in-cluster no
 * process is started (`operator` stays undefined): the operator in the cluster watches every namespace. */
export function operatorNamespace(prefix: string, prepare?: (namespace: string) => Promise<void>): { ns: string; operator?: OperatorProcess } {
  const fixture = {} as { ns: string; operator?: OperatorProcess };
  let cleanup: (() => Promise<void>) | undefined;
  beforeAll(async () => {
    await installCrd();
    ({ name: fixture.ns, cleanup } = await createNamespace(prefix));
    await prepare?.(fixture.ns);
    if (!operatorInCluster) fixture.operator = startOperator({ WATCH_NAMESPACES: fixture.ns });
  });
  afterAll(async () => {
    await fixture.operator?.stop();
    await cleanup?.();
  });
  return fixture;
}
