// `npm start`: the operator against the cluster of the current kubeconfig (KUBECONFIG, or in-cluster).
import { KIND, GROUP, VERSION, type RedisReplication } from './api/schema.js';
import { ConfigError, currentHost, HELP_TEXT, isHelpRequested, loadConfig } from './config.js';
import { startController, type Controller } from './controller/controller.js';
import { startHttpServer } from './http/server.js';
import { loadKubeConfig, makeClients } from './kube/client.js';
import { EventRecorder } from './kube/events.js';
import { LeaderElector } from './kube/leader.js';
import { log, setLogLevel } from './log.js';
import { OperatorMetrics } from './metrics/metrics.js';

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (isHelpRequested(argv)) {
    console.log(HELP_TEXT);
    return;
  }
  const config = loadConfig(argv, process.env);
  setLogLevel(config.logLevel);
  const kc = loadKubeConfig();
  const clients = makeClients(kc);
  const metrics = new OperatorMetrics();
  const recorder = new EventRecorder({
    api: clients.core,
    component: 'redis-replication-operator',
    instance: config.identity,
    onError: (err) => log.warn({ err: String(err) }, 'could not record an Event'),
  });
  const events = {
    record: (rr: RedisReplication, type: 'Normal' | 'Warning', reason: string, message: string) =>
      recorder.record(
        { apiVersion: `${GROUP}/${VERSION}`, kind: KIND, name: rr.metadata.name, namespace: rr.metadata.namespace, uid: rr.metadata.uid },
        type,
        reason,
        message,
      ),
  };

  let controller: Controller | undefined;
  let stopping = false;
  const start = () => {
    if (controller) return;
    log.info({ namespaces: config.namespaces.length > 0 ? config.namespaces : 'all' }, 'starting controller');
    controller = startController({
      kc,
      clients,
      log,
      namespaces: config.namespaces,
      concurrency: config.concurrency,
      healthIntervalMs: config.healthIntervalMs,
      resyncIntervalMs: config.resyncIntervalMs,
      operatorNamespace: currentHost().inClusterNamespace,
      restore: { address: config.restoreAddress || undefined, port: config.restorePort },
      events,
      metrics,
    });
  };

  const elector = config.leaderElect
    ? new LeaderElector({
        api: clients.coordination,
        name: config.leaseName,
        namespace: config.leaseNamespace,
        identity: config.identity,
        onStartedLeading: () => {
          log.info({ identity: config.identity }, 'became leader');
          start();
        },
        // A follower that was leader must not act on a stale view: exit and let the pod restart.
        onStoppedLeading: () => {
          if (stopping) return;
          log.error('lost leadership; exiting');
          process.exit(1);
        },
        onError: (err) => log.warn({ err: String(err) }, 'leader election'),
      })
    : undefined;

  const http = await startHttpServer(config.metricsPort, {
    registry: metrics.registry,
    healthy: () => true,
    ready: () => (elector ? !elector.isLeader() || Boolean(controller?.synced()) : Boolean(controller?.synced())),
  });
  log.info({ port: http.port }, 'serving /metrics, /healthz, /readyz');

  if (elector) elector.start();
  else start();

  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    await controller?.stop();
    await elector?.release();
    await http.close();
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

main().catch((err: unknown) => {
  if (err instanceof ConfigError) {
    console.error(`redis-replication-operator: ${err.message}`);
    process.exit(2);
  }
  log.fatal({ err: err instanceof Error ? err.message : String(err) }, 'operator failed');
  process.exit(1);
});
