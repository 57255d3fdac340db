// `npm run demo [-- --exit-when-ready]`: one command for a newcomer. Brings the local cluster up,
// installs the CRD, runs the operator, applies examples/cascade.yaml into namespace `demo` and
// shows the topology converging. Idempotent: run it as often as you like.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import type { RedisReplication } from '../src/api/schema.js';
import { renderStatus } from '../src/cli/render.js';
import { fetchPods, fetchResource, NotFoundError, useColor } from '../src/cli/status.js';
import { loadKubeConfig, makeClients } from '../src/kube/client.js';
import { OPERATOR_NODE_FLAGS, must, repoRoot, waitFor } from './lib.js';
import { clusterPaths } from './local-cluster/common.js';
import { up } from './local-cluster/lifecycle.js';

const CLUSTER = clusterPaths();
const KUBECONFIG = CLUSTER.kubeconfig;
const KUBECTL = join(CLUSTER.bin, 'kubectl');
const LOG_DIR = CLUSTER.logs;
const OPERATOR_LOG = join(LOG_DIR, 'demo-operator.log');
const NAMESPACE = 'demo';
const NAME = 'cache';
const EXAMPLE = join(repoRoot, 'examples', 'cascade.yaml');
const READY_TIMEOUT_MS = 180_000;
const STOP_TIMEOUT_MS = 15_000;

const USAGE = `Usage: npm run demo [-- --exit-when-ready]

  --exit-when-ready   stop the operator and exit 0 once the example is Ready (the cluster keeps running)
  --no-color          no colours
  -h, --help          this text`;

const rel = (p: string) => relative(process.cwd(), p) || '.';
const tty = Boolean(process.stdout.isTTY);
let stepNo = 0;
function step(text: string): void {
  stepNo++;
  const line = `==> [${stepNo}/6] ${text}`;
  process.stdout.write(`${tty ? `\u001b[1m${line}\u001b[0m` : line}\n`);
}
const info = (text: string) => process.stdout.write(`    ${text}\n`);

class DemoError extends Error {}

/** Runs the cluster's kubectl; resolves with its stdout, rejects (DemoError) with its stderr on a non-zero exit. */
const kubectl = (args: string[], input?: string): Promise<string> =>
  must(KUBECTL, ['--kubeconfig', KUBECONFIG, ...args], { input, timeoutMs: 120_000, env: { ...process.env, KUBECONFIG } }).catch((e: Error) => {
    throw new DemoError(e.message.replace(KUBECTL, rel(KUBECTL)));
  });

const PID_FILE = join(LOG_DIR, 'demo-operator.pid');

/** The pid of a demo operator another `npm run demo` started and that still runs, if any. */
function otherDemoOperator(): number | undefined {
  try {
    const pid = Number(readFileSync(PID_FILE, 'utf8').trim());
    if (!Number.isInteger(pid) || pid <= 0) return undefined;
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return cmdline.includes('src/main.ts') ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** The operator, a child process with its logs in a file. */
class Operator {
  private exited: Promise<number | null>;
  private exitCode: number | null | undefined;
  constructor(readonly child: ChildProcess) {
    this.exited = new Promise((resolve) =>
      child.on('exit', (code, signal) => {
        this.exitCode = code ?? (signal ? -1 : null);
        resolve(this.exitCode);
      }),
    );
  }
  static start(): Operator {
    mkdirSync(LOG_DIR, { recursive: true });
    const fd = openSync(OPERATOR_LOG, 'a');
    writeSync(fd, `\n--- npm run demo: operator started ${new Date().toISOString()} ---\n`);
    const child = spawn(process.execPath, [...OPERATOR_NODE_FLAGS, '--import', 'tsx', 'src/main.ts'], {
      cwd: repoRoot,
      env: {
        ...process.env,
        KUBECONFIG,
        METRICS_PORT: '0',
        // Only the demo's namespace: other work on the same cluster is left alone.
        WATCH_NAMESPACES: NAMESPACE,
      },
      stdio: ['ignore', fd, fd],
      // Its own process group: Ctrl-C reaches the demo, which stops the operator in order.
      detached: true,
    });
    closeSync(fd);
    if (child.pid !== undefined) writeFileSync(PID_FILE, `${child.pid}\n`);
    return new Operator(child);
  }
  get running(): boolean {
    return this.exitCode === undefined;
  }
  get code(): number | null | undefined {
    return this.exitCode;
  }
  /** SIGTERM, wait; SIGKILL if it does not stop in time. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), STOP_TIMEOUT_MS);
    await this.exited;
    clearTimeout(timer);
    if (otherDemoOperator() === undefined) rmSync(PID_FILE, { force: true });
  }
}

async function ensureNamespace(): Promise<void> {
  // Wait out a namespace that is still being deleted (a previous `kubectl delete ns demo`).
  await waitFor(
    async () => {
      const phase = await kubectl(['get', 'namespace', NAMESPACE, '-o', 'jsonpath={.status.phase}', '--ignore-not-found']);
      if (phase.trim() !== 'Terminating') return true;
      info(`namespace ${NAMESPACE} is still being deleted; waiting`);
      return false;
    },
    { timeoutMs: 120_000, intervalMs: 2000, what: `namespace ${NAMESPACE} to be deleted` },
  ).catch((e: Error) => {
    throw new DemoError(`namespace ${NAMESPACE} has been terminating for 2 minutes; try again later (${e.message})`);
  });
  const manifest = `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ${NAMESPACE}\n`;
  await kubectl(['apply', '--server-side', '--field-manager=rro-demo', '-f', '-'], manifest);
}

function primaryIP(rr: RedisReplication | undefined): string | undefined {
  const st = rr?.status;
  return st?.nodes?.find((n) => n.name === st.primary)?.podIP;
}

async function main(argv: string[]): Promise<number> {
  let opts: { 'exit-when-ready': boolean; 'no-color': boolean; help: boolean };
  try {
    opts = parseArgs({
      args: argv,
      options: {
        'exit-when-ready': { type: 'boolean', default: false },
        'no-color': { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }).values;
  } catch (e) {
    process.stderr.write(`demo: ${(e as Error).message}\n\n${USAGE}\n`);
    return 2;
  }
  if (opts.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const exitWhenReady = opts['exit-when-ready'];
  const color = useColor(opts['no-color']);
  const began = Date.now();

  step('Local cluster (npm run cluster:up; the first run builds binaries and can take a while)');
  await up().catch((e: Error) => {
    throw new DemoError(`cluster:up failed: ${e.message}`);
  });
  if (!existsSync(KUBECONFIG) || !existsSync(KUBECTL)) throw new DemoError(`cluster:up left no ${rel(KUBECONFIG)} or ${rel(KUBECTL)}`);

  step('CRD redisreplications.redis.replication.dev');
  await kubectl(['apply', '--server-side', '--force-conflicts', '--field-manager=rro-demo', '-f', join(repoRoot, 'crds')]);
  await kubectl(['wait', '--for=condition=Established', '--timeout=60s', 'crd/redisreplications.redis.replication.dev']);
  info('installed and established');

  step(`Operator (logs: ${rel(OPERATOR_LOG)})`);
  // Another demo (another terminal) already runs one: two operators on one resource would fight.
  const other = otherDemoOperator();
  const operator = other === undefined ? Operator.start() : undefined;
  if (operator) info(`running, pid ${operator.child.pid}, watching namespace ${NAMESPACE}`);
  else info(`an operator started by another npm run demo is running (pid ${other}); using it`);

  // From here on, whatever happens, the operator is stopped before the demo exits.
  let interrupted = false;
  let wake: (() => void) | undefined;
  const onSignal = () => {
    if (interrupted) return;
    interrupted = true;
    wake?.();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const stopOperator = async () => {
    if (!operator?.running) return;
    process.stdout.write(`    stopping the operator (SIGTERM, pid ${operator.child.pid})...`);
    await operator.stop();
    process.stdout.write(` stopped\n`);
  };

  try {
    step(`Namespace ${NAMESPACE} and ${rel(EXAMPLE)} (a primary, 2 replicas, 2 replicas under each: 7 pods)`);
    await ensureNamespace();
    const applied = await kubectl(['apply', '--server-side', '--field-manager=rro-demo', '-n', NAMESPACE, '-f', EXAMPLE]);
    info(applied.trim());
    const appliedAt = Date.now();

    step(`Waiting for ${NAMESPACE}/${NAME} to be Ready (at most ${READY_TIMEOUT_MS / 1000}s)`);
    // The demo's own API calls use the local cluster too, whatever KUBECONFIG the shell has.
    process.env.KUBECONFIG = KUBECONFIG;
    const clients = makeClients(loadKubeConfig());
    let rr: RedisReplication | undefined;
    let last = '';
    let readyAt: number | undefined;
    let apiErrors = 0;
    while (!interrupted) {
      if (operator && !operator.running) {
        throw new DemoError(`the operator exited (code ${operator.code}); see ${rel(OPERATOR_LOG)}`);
      }
      const started = Date.now();
      let body: string;
      try {
        rr = await fetchResource(clients, NAMESPACE, NAME);
        const pods = await fetchPods(clients, NAMESPACE, NAME);
        body = renderStatus(rr, { color, now: new Date(), pods });
        apiErrors = 0;
      } catch (e) {
        if (!(e instanceof NotFoundError) && ++apiErrors >= 15) throw new DemoError(`the API server keeps failing: ${(e as Error).message}`);
        body = `${e instanceof NotFoundError ? e.message : `reading ${NAMESPACE}/${NAME}: ${(e as Error).message}`}\n`;
      }
      const elapsed = ((Date.now() - appliedAt) / 1000).toFixed(0);
      const stamp = `${elapsed}s since apply; refreshing every second`;
      if (tty) {
        process.stdout.write(`\u001b[H\u001b[2J${stamp}\n\n${body}`);
      } else if (body !== last) {
        // Not a terminal: print a frame only when something changed.
        process.stdout.write(`--- ${stamp}\n${body}`);
      }
      last = body;
      const st = rr?.status;
      if (st?.phase === 'Ready' && st.observedGeneration === rr?.metadata.generation) {
        readyAt = Date.now();
        break;
      }
      if (Date.now() - appliedAt > READY_TIMEOUT_MS) {
        throw new DemoError(
          `${NAMESPACE}/${NAME} was not Ready after ${READY_TIMEOUT_MS / 1000}s (phase ${st?.phase ?? 'none'}).\n` +
            `    The operator's log: ${rel(OPERATOR_LOG)}\n` +
            `    Look around: ${rel(KUBECTL)} --kubeconfig ${rel(KUBECONFIG)} -n ${NAMESPACE} describe rr ${NAME}`,
        );
      }
      await new Promise<void>((r) => {
        wake = r;
        setTimeout(r, Math.max(0, 1000 - (Date.now() - started)));
      });
    }
    if (interrupted || readyAt === undefined) {
      process.stdout.write('\ninterrupted\n');
      await stopOperator();
      return 130;
    }

    const toReady = ((readyAt - appliedAt) / 1000).toFixed(1);
    process.stdout.write('\n');
    step(`${NAMESPACE}/${NAME} is Ready ${toReady}s after apply (${((readyAt - began) / 1000).toFixed(1)}s since the demo started)`);
    const ip = primaryIP(rr) ?? '<primary pod IP>';
    const kc = `--kubeconfig ${rel(KUBECONFIG)}`;
    process.stdout.write(
      [
        'Look around:',
        `  ${rel(KUBECTL)} ${kc} -n ${NAMESPACE} get rr   # or any kubectl with --kubeconfig .cluster/kubeconfig`,
        `  ${rel(KUBECTL)} ${kc} -n ${NAMESPACE} get pods -L redis.replication.dev/role,redis.replication.dev/tier,redis.replication.dev/read`,
        `  KUBECONFIG=${rel(KUBECONFIG)} npm run status -- ${NAME} -n ${NAMESPACE} --watch`,
        // The example leaves auth out: the password is the one the operator generated.
        `  REDISCLI_AUTH="$(${rel(KUBECTL)} ${kc} -n ${NAMESPACE} get secret ${NAME}-auth -o jsonpath='{.data.password}' | base64 -d)" redis-cli -h ${ip}   # the primary (pod IPs are reachable from this host)`,
        `  ${rel(KUBECTL)} ${kc} -n ${NAMESPACE} delete pod ${rr?.status?.primary ?? '<primary>'}   # and watch a failover`,
        `  Operator log: ${rel(OPERATOR_LOG)}`,
        '',
      ].join('\n'),
    );

    if (exitWhenReady) {
      await stopOperator();
      process.stdout.write('Done: the cluster keeps running (npm run cluster:down stops it).\n');
      return 0;
    }
    if (!operator) {
      process.stdout.write(`The operator is the other npm run demo's (pid ${other}); it keeps running there.\n`);
      return 0;
    }
    process.stdout.write(`The operator keeps running (pid ${operator.child.pid}). Press Ctrl-C to stop it.\n`);
    await new Promise<void>((r) => {
      wake = r;
      if (interrupted) r();
      void operator.child.once('exit', () => r());
    });
    if (!operator.running && !interrupted) {
      process.stdout.write(`The operator exited by itself (code ${operator.code}); see ${rel(OPERATOR_LOG)}\n`);
      return 1;
    }
    process.stdout.write('\n');
    await stopOperator();
    process.stdout.write('The cluster keeps running (npm run cluster:down stops it).\n');
    return 0;
  } catch (e) {
    await stopOperator();
    throw e;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`\ndemo: ${err instanceof Error ? err.message : String(err)}\n`);
    if (!(err instanceof DemoError) && err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
    process.exit(1);
  },
);
