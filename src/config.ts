import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import { z } from 'zod';

const IN_CLUSTER_NAMESPACE_FILE = '/var/run/secrets/kubernetes.io/serviceaccount/namespace';

const dnsName = z
  .string()
  .min(1)
  .max(253)
  .regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, 'must be a lowercase DNS name');

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

const configSchema = z.object({
  namespaces: z
    .string()
    .transform((v) => v.split(',').map((s) => s.trim()).filter((s) => s !== ''))
    .pipe(z.array(dnsName)),
  logLevel: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']),
  metricsPort: int(0, 65535),
  leaderElect: bool,
  leaseName: dnsName,
  leaseNamespace: dnsName,
  identity: z.string().min(1).max(253),
  healthIntervalMs: int(100, 3_600_000),
  resyncIntervalMs: int(1000, 86_400_000),
  concurrency: int(1, 64),
  restoreAddress: z.union([z.literal(''), z.ipv4(), z.ipv6()]),
  restorePort: int(0, 65535),
});

export type Config = z.output<typeof configSchema>;
type Key = keyof Config;

interface Option {
  flag: string;
  env: string;
  help: string;
  /** A flag that may stand alone (`--leader-elect` means true). */
  boolean?: boolean;
}

const OPTIONS: Record<Key, Option> = {
  namespaces: { flag: '--namespaces', env: 'WATCH_NAMESPACES', help: 'comma-separated namespaces to watch; empty = all' },
  logLevel: { flag: '--log-level', env: 'LOG_LEVEL', help: 'trace|debug|info|warn|error|fatal|silent (default info)' },
  metricsPort: { flag: '--metrics-port', env: 'METRICS_PORT', help: 'port of /metrics, /healthz, /readyz (default 8080)' },
  leaderElect: { flag: '--leader-elect', env: 'LEADER_ELECT', help: 'run leader election on a Lease (default false)', boolean: true },
  leaseName: { flag: '--lease-name', env: 'LEASE_NAME', help: 'name of the leader Lease (default redis-replication-operator)' },
  leaseNamespace: { flag: '--lease-namespace', env: 'POD_NAMESPACE', help: 'namespace of the Lease (default: in-cluster namespace or "default")' },
  identity: { flag: '--identity', env: 'POD_NAME', help: 'leader election identity (default hostname_pid)' },
  healthIntervalMs: { flag: '--health-interval', env: 'HEALTH_INTERVAL_MS', help: 'milliseconds between probes of each pod\'s Redis replication state (default 1000)' },
  resyncIntervalMs: {
    flag: '--resync-interval',
    env: 'RESYNC_INTERVAL_MS',
    help: 'milliseconds between reads of the Secrets resources use, and between reconciles of a resource whose last pass wrote something or that has backups (default 30000)',
  },
  concurrency: { flag: '--concurrency', env: 'CONCURRENCY', help: 'parallel reconcile workers (default 4), plus one kept for resources whose primary is lost' },
  restoreAddress: {
    flag: '--restore-address',
    env: 'RESTORE_ADDRESS',
    help: 'the IP at which pods reach this operator to load a backup (restores); empty: no restore can run (the chart sets the pod IP)',
  },
  restorePort: { flag: '--restore-port', env: 'RESTORE_PORT', help: 'the port of restores, opened only while one runs (default 6380; 0: any free port)' },
};

/** Facts of the running host that some defaults come from; injected to keep loadConfig pure. */
export interface HostFacts {
  hostname: string;
  pid: number;
  inClusterNamespace?: string;
}

export function currentHost(): HostFacts {
  let inClusterNamespace: string | undefined;
  try {
    inClusterNamespace = readFileSync(IN_CLUSTER_NAMESPACE_FILE, 'utf8').trim() || undefined;
  } catch {
    inClusterNamespace = undefined;
  }
  return { hostname: hostname(), pid: process.pid, inClusterNamespace };
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

export const HELP_TEXT = [
  'Usage: redis-replication-operator [flags]',
  '',
  'Flags (each also read from the environment variable named after it):',
  ...Object.values(OPTIONS).map((o) => `  ${`${o.flag} / ${o.env}`.padEnd(40)} ${o.help}`),
  '  --help                                   print this text',
].join('\n');

export function isHelpRequested(argv: readonly string[]): boolean {
  return argv.includes('--help') || argv.includes('-h');
}

/** Flags by key. A boolean flag also stands alone (`--leader-elect` means `--leader-elect=true`). */
function parseFlags(argv: readonly string[]): Partial<Record<Key, string>> {
  const booleans = new Set(Object.values(OPTIONS).filter((o) => o.boolean).map((o) => o.flag));
  const args = argv.map((a) => (booleans.has(a) ? `${a}=true` : a));
  const options = Object.fromEntries(Object.values(OPTIONS).map((o) => [o.flag.slice(2), { type: 'string' as const }]));
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({ args, options, strict: true, allowPositionals: false }));
  } catch (err) {
    const { code, message } = err as { code?: string; message: string };
    if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') throw new ConfigError(`unknown flag ${/'([^']+)'/.exec(message)?.[1] ?? ''} (see --help)`);
    if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') throw new ConfigError(`flag ${/'(--[\w-]+)/.exec(message)?.[1] ?? ''} needs a value`);
    throw new ConfigError(message);
  }
  const out: Partial<Record<Key, string>> = {};
  for (const [key, o] of Object.entries(OPTIONS) as [Key, Option][]) {
    const value = values[o.flag.slice(2)];
    if (typeof value === 'string') out[key] = value;
  }
  return out;
}

/** Builds the configuration from flags (which win) and environment. Throws ConfigError naming the bad input. */
export function loadConfig(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  host: HostFacts = currentHost(),
): Config {
  const defaults: Record<Key, string> = {
    namespaces: '',
    logLevel: 'info',
    metricsPort: '8080',
    leaderElect: 'false',
    leaseName: 'redis-replication-operator',
    leaseNamespace: host.inClusterNamespace ?? 'default',
    identity: `${host.hostname}_${host.pid}`,
    healthIntervalMs: '1000',
    resyncIntervalMs: '30000',
    concurrency: '4',
    restoreAddress: '',
    restorePort: '6380',
  };
  const flags = parseFlags(argv);
  const raw = Object.fromEntries(
    (Object.keys(OPTIONS) as Key[]).map((key) => {
      const envValue = env[OPTIONS[key].env];
      return [key, flags[key] ?? (envValue === undefined || envValue === '' ? defaults[key] : envValue)];
    }),
  );
  const parsed = configSchema.safeParse(raw);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((issue) => {
    const key = issue.path[0] as Key;
    const o = OPTIONS[key];
    return `${o.flag} / ${o.env}: ${issue.message} (got ${JSON.stringify(raw[key])})`;
  });
  throw new ConfigError(`invalid configuration: ${problems.join('; ')}`);
}
