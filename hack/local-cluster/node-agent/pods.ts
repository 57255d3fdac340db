// Runs one pod: its network namespace, volumes, container processes, probes, restarts and status.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, openSync, closeSync, readFileSync, statSync } from 'node:fs';
import net from 'node:net';
import http from 'node:http';
import { join, basename } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { OPERATOR_NODE_FLAGS, repoRoot, run } from '../../lib.js';
import { OWNER_ENV, pidAlive, procStartTime, rmrf, stopPids, type ClusterPaths } from '../common.js';
import { SELF } from './self.js';
import { allocateIP, netnsName, setupPodNetwork, teardownPodNetwork, vethName } from './netns.js';
import { serverFor, serverNameFor } from './servers.js';
import { ConfigError, containerEnv, expand, mountsOf, ownVolumes, prepareVolumes, type Api, type Mount } from './volumes.js';
import { podDir, readState, writeState, type PodState } from './state.js';

const mergePatch = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);

export type Logger = (msg: string) => void;

interface Terminated { exitCode: number; signal?: number; reason: string; message?: string; startedAt?: string; finishedAt: string; containerID?: string }

interface Probe { fails: number; succ: number; next: number; busy: boolean }

interface Ctr {
  spec: k8s.V1Container;
  init?: boolean;
  pid?: number;
  pidStart?: number;
  child?: ChildProcess;
  startedAt?: string;
  restartCount: number;
  crashes: number;
  ready: boolean;
  readiness: Probe;
  liveness: Probe;
  waiting?: { reason: string; message?: string };
  lastTerminated?: Terminated;
  final?: Terminated;
  nextStartAt: number;
  exited?: { code: number | null; signal: NodeJS.Signals | null };
  killing?: boolean;
  env?: Record<string, string>;
}

const SIGNUM: Record<string, number> = { SIGKILL: 9, SIGTERM: 15, SIGINT: 2, SIGSEGV: 11, SIGABRT: 6, SIGHUP: 1, SIGQUIT: 3, SIGPIPE: 13 };

function q(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

export function imageKind(image: string): 'redis' | 'operator' | undefined {
  const repo = image.replace(/@.*$/, '').replace(/:[^/:]*$/, '');
  const last = repo.split('/').pop() ?? '';
  if (repo.includes('redis-replication-operator')) return 'operator';
  if (/^(redis|valkey)([-_].*)?$/.test(last) || /(^|\/)(bitnami\/)?(redis|valkey)$/.test(repo)) return 'redis';
  return undefined;
}

/** The machine's binary for a command of a redis/valkey image: the server the image names (servers.ts),
 * and Debian's tools otherwise (their protocol is the same for every server). */
function mapBinary(cmd: string, server?: string): string {
  const b = basename(cmd);
  if (b === 'redis-server' || b === 'valkey-server') return server ?? '/usr/bin/redis-server';
  if (b === 'redis-cli' || b === 'valkey-cli') return '/usr/bin/redis-cli';
  if (b === 'redis-sentinel' || b === 'valkey-sentinel') return '/usr/bin/redis-sentinel';
  return cmd;
}

const now = (): string => new Date().toISOString().replace(/\.\d+Z$/, 'Z');

/** The securityContext as a runtime applies it, with util-linux setpriv: the user and group, no
 * supplementary groups but fsGroup, no new privileges, and dropped capabilities. Empty: run as root. */
function privileges(pod: k8s.V1Pod, c: k8s.V1Container): string[] {
  const podSc = pod.spec?.securityContext;
  const sc = c.securityContext;
  const uid = sc?.runAsUser ?? podSc?.runAsUser;
  const gid = sc?.runAsGroup ?? podSc?.runAsGroup ?? uid;
  if ((sc?.runAsNonRoot ?? podSc?.runAsNonRoot) && !uid) throw new ConfigError('CreateContainerConfigError', 'container has runAsNonRoot and no non-zero runAsUser');
  const out = ['setpriv'];
  if (uid !== undefined) out.push('--reuid', String(uid), '--regid', String(gid ?? uid));
  if (podSc?.fsGroup !== undefined) out.push('--groups', String(podSc.fsGroup));
  else if (uid !== undefined) out.push('--clear-groups');
  if (sc?.allowPrivilegeEscalation === false) out.push('--no-new-privs');
  if (sc?.capabilities?.drop?.some((cap) => cap.toUpperCase() === 'ALL')) out.push('--inh-caps', '-all', '--bounding-set', '-all');
  return out.length > 1 ? [...out, '--'] : [];
}

export class PodRuntime {
  readonly uid: string;
  readonly dir: string;
  state: PodState;
  pod: k8s.V1Pod;
  private ctrs = new Map<string, Ctr>();
  /** init containers, run one after another to completion before the others */
  private inits: Ctr[] = [];
  private netReady = false;
  private volumes?: Record<string, string>;
  private volumesAt = 0;
  private lastStatus = '';
  private busy = false;
  private kickedWhileBusy = false;
  private deleting = false;
  private podWaiting?: { reason: string; message: string };
  gone = false;

  constructor(private api: Api & { core: k8s.CoreV1Api }, private paths: ClusterPaths, pod: k8s.V1Pod, private log: Logger) {
    this.uid = pod.metadata!.uid!;
    this.pod = pod;
    this.dir = podDir(paths.pods, this.uid);
    const existing = readState(paths.pods, this.uid);
    this.state = existing ?? {
      uid: this.uid, namespace: pod.metadata!.namespace!, name: pod.metadata!.name!, node: SELF.name,
      netns: netnsName(this.uid), veth: vethName(this.uid), ip: '', createdAt: now(), containers: {},
    };
    const specs = [...(pod.spec?.initContainers ?? []).map((c) => ({ c, init: true })), ...(pod.spec?.containers ?? []).map((c) => ({ c, init: false }))];
    for (const { c, init } of specs) {
      const saved = this.state.containers[init ? `init:${c.name}` : c.name];
      const ctr: Ctr = {
        spec: c, init, restartCount: saved?.restartCount ?? 0, crashes: 0, ready: false, nextStartAt: 0,
        readiness: { fails: 0, succ: 0, next: 0, busy: false }, liveness: { fails: 0, succ: 0, next: 0, busy: false },
      };
      // Adopt a process a previous agent started.
      if (saved?.pid && pidAlive(saved.pid) && procStartTime(saved.pid) === saved.pidStart) {
        ctr.pid = saved.pid;
        ctr.pidStart = saved.pidStart;
        ctr.startedAt = saved.startedAt;
        this.log(`${this.key()}: adopted container ${c.name} pid ${saved.pid}`);
      }
      if (init) {
        if (this.state.initDone) ctr.final = { exitCode: 0, reason: 'Completed', finishedAt: this.state.createdAt };
        this.inits.push(ctr);
      } else {
        this.ctrs.set(c.name, ctr);
      }
    }
    if (existing && existsSync(`/run/netns/${existing.netns}`) && existing.ip) {
      this.netReady = true;
      void run('ip', ['link', 'set', existing.veth, 'type', 'bridge_slave', 'hairpin', 'on']);
    }
  }

  key(): string {
    return `${this.state.namespace}/${this.state.name}`;
  }

  private recent = new Map<string, number>();

  /** A core/v1 Event on the pod, as the kubelet would record it (same reason+message at most once a minute). */
  event(type: 'Normal' | 'Warning', reason: string, message: string, container?: string): void {
    const k = `${reason}|${message}`;
    if (Date.now() - (this.recent.get(k) ?? 0) < 60_000) return;
    this.recent.set(k, Date.now());
    const t = new Date();
    void this.api.core.createNamespacedEvent({
      namespace: this.state.namespace,
      body: {
        metadata: { generateName: `${this.state.name}.`, namespace: this.state.namespace },
        involvedObject: {
          apiVersion: 'v1', kind: 'Pod', namespace: this.state.namespace, name: this.state.name, uid: this.uid,
          fieldPath: container ? `spec.containers{${container}}` : undefined,
        },
        reason, message, type, count: 1, firstTimestamp: t, lastTimestamp: t,
        source: { component: 'kubelet', host: SELF.name }, reportingComponent: 'kubelet', reportingInstance: SELF.name,
      },
    }).catch(() => undefined);
  }

  /** Called with the newest pod object; runs a sync, or one more right after the running one. */
  kick(pod: k8s.V1Pod): void {
    this.pod = pod;
    if (this.busy) {
      this.kickedWhileBusy = true;
      return;
    }
    this.busy = true;
    this.sync().catch((err: unknown) => this.log(`${this.key()}: sync error: ${err instanceof Error ? err.stack ?? err.message : String(err)}`))
      .finally(() => {
        this.busy = false;
        if (this.kickedWhileBusy) {
          this.kickedWhileBusy = false;
          this.kick(this.pod);
        }
      });
  }

  private save(): void {
    for (const [name, c] of this.ctrs) {
      this.state.containers[name] = { pid: c.pid, pidStart: c.pidStart, startedAt: c.startedAt, restartCount: c.restartCount };
    }
    for (const c of this.inits) {
      this.state.containers[`init:${c.spec.name}`] = { pid: c.pid, pidStart: c.pidStart, startedAt: c.startedAt, restartCount: c.restartCount };
    }
    mkdirSync(this.dir, { recursive: true });
    writeState(this.paths.pods, this.state);
  }

  private async sync(): Promise<void> {
    if (this.gone) return;
    if (this.pod.metadata?.deletionTimestamp) {
      if (this.deleting) return;
      this.deleting = true;
      const grace = this.pod.metadata.deletionGracePeriodSeconds ?? this.pod.spec?.terminationGracePeriodSeconds ?? 30;
      this.log(`${this.key()}: deleting (grace ${grace}s)`);
      for (const c of this.ctrs.values()) if (c.pid) this.event('Normal', 'Killing', `Stopping container ${c.spec.name}`, c.spec.name);
      await this.stopAll(grace * 1000);
      await this.teardown();
      try {
        await this.api.core.deleteNamespacedPod({ name: this.state.name, namespace: this.state.namespace, gracePeriodSeconds: 0, body: { gracePeriodSeconds: 0, preconditions: { uid: this.uid } } });
      } catch (err) {
        if ((err as { code?: number }).code !== 404 && (err as { code?: number }).code !== 409) throw err;
      }
      this.gone = true;
      return;
    }
    if (!this.netReady) {
      mkdirSync(this.dir, { recursive: true });
      if (!this.state.ip) this.state.ip = allocateIP(this.paths.run, this.paths.pods, SELF);
      this.save();
      try {
        await setupPodNetwork(this.state.netns, this.state.veth, this.state.ip);
        this.netReady = true;
        this.podWaiting = undefined;
        this.log(`${this.key()}: network ${this.state.netns} ip ${this.state.ip}`);
      } catch (err) {
        this.podWaiting = { reason: 'NetworkSetupError', message: err instanceof Error ? err.message : String(err) };
      }
    }
    if (this.netReady && !this.state.initDone) {
      // One init container at a time, each to a successful exit.
      const next = this.inits.find((c) => !(c.final && c.final.exitCode === 0));
      if (next) {
        await this.syncContainer(next);
      }
      if (this.inits.every((c) => c.final && c.final.exitCode === 0)) {
        this.state.initDone = true;
        this.save();
      }
    }
    if (this.netReady && this.state.initDone) {
      for (const c of this.ctrs.values()) await this.syncContainer(c);
    }
    await this.patchStatus();
  }

  private async syncContainer(c: Ctr): Promise<void> {
    // Exit of a process we started, or disappearance of one we adopted.
    if (c.pid && !c.child && !pidAlive(c.pid)) c.exited = { code: null, signal: null };
    if (c.pid && c.exited) {
      const ex = c.exited;
      const unknown = ex.code === null && ex.signal === null;
      const code = ex.code ?? (ex.signal ? 128 + (SIGNUM[ex.signal] ?? 0) : 137);
      const term: Terminated = {
        exitCode: code, reason: unknown ? 'ContainerStatusUnknown' : code === 0 ? 'Completed' : 'Error',
        message: ex.signal ? `killed by ${ex.signal}` : undefined,
        startedAt: c.startedAt, finishedAt: now(), containerID: this.containerID(c),
      };
      if (ex.signal) term.signal = SIGNUM[ex.signal];
      this.log(`${this.key()}: container ${c.spec.name} exited code ${code}${ex.signal ? ` (${ex.signal})` : ''}`);
      const ranMs = c.startedAt ? Date.now() - Date.parse(c.startedAt) : 0;
      c.crashes = ranMs > 60_000 ? 1 : c.crashes + 1;
      c.pid = undefined;
      c.pidStart = undefined;
      c.child = undefined;
      c.exited = undefined;
      c.ready = false;
      c.readiness = { fails: 0, succ: 0, next: 0, busy: false };
      c.liveness = { fails: 0, succ: 0, next: 0, busy: false };
      const policy = this.pod.spec?.restartPolicy ?? 'Always';
      const restart = c.init ? code !== 0 && policy !== 'Never' : policy === 'Always' || (policy === 'OnFailure' && code !== 0);
      if (restart) {
        c.lastTerminated = term;
        const backoff = c.crashes <= 1 ? 0 : Math.min(1000 * 2 ** (c.crashes - 2), 30_000);
        c.nextStartAt = Date.now() + backoff;
        if (backoff > 0) {
          c.waiting = { reason: 'CrashLoopBackOff', message: `back-off ${Math.round(backoff / 1000)}s restarting failed container=${c.spec.name} pod=${this.state.name}` };
          this.event('Warning', 'BackOff', 'Back-off restarting failed container', c.spec.name);
        }
      } else {
        c.final = term;
      }
      this.save();
    }
    if (c.final) return;
    if (!c.pid) {
      if (Date.now() < c.nextStartAt) return;
      try {
        await this.start(c);
        c.waiting = undefined;
      } catch (err) {
        if (err instanceof ConfigError) {
          c.waiting = { reason: err.reason, message: err.message };
          if (err.reason !== 'ContainerCreating') this.event('Warning', 'Failed', `Error: ${err.message}`, c.spec.name);
          c.nextStartAt = Date.now() + 2000;
        } else {
          c.waiting = { reason: 'RunContainerError', message: err instanceof Error ? err.message : String(err) };
          c.nextStartAt = Date.now() + 3000;
          this.log(`${this.key()}: container ${c.spec.name} failed to start: ${c.waiting.message}`);
        }
      }
      return;
    }
    if (!c.init) this.runProbes(c);
  }

  private containerID(c: Ctr): string {
    return `rro://${this.state.netns}/${c.spec.name}/${c.restartCount}`;
  }

  private async start(c: Ctr): Promise<void> {
    const spec = c.spec;
    const kind = imageKind(spec.image ?? '');
    if (!kind) throw new ConfigError('UnsupportedImage', `image "${spec.image}" cannot be run by the local node: only redis/valkey images and the operator image are supported`);
    if (!this.volumes || Date.now() - this.volumesAt > 600_000) {
      this.volumes = await prepareVolumes(this.api, this.pod, this.dir, this.state.ip, SELF.ip);
      ownVolumes(this.pod, this.volumes);
      this.volumesAt = Date.now();
    }
    const env = await containerEnv(this.api, this.pod, spec, this.state.ip, SELF.ip);
    const mounts = mountsOf(spec, this.volumes);
    let argv: string[];
    let cwd = spec.workingDir ?? '/';
    if (kind === 'redis') {
      const server = serverFor(spec.image ?? '');
      if ('unsupported' in server) throw new ConfigError(server.unsupported, server.message);
      const cmd = (spec.command ?? []).map((s) => expand(s, env));
      const args = (spec.args ?? []).map((s) => expand(s, env));
      if (cmd.length > 0) argv = [...cmd, ...args];
      else if (args.length === 0) argv = ['redis-server'];
      else if (args[0]!.startsWith('-') || args[0]!.endsWith('.conf')) argv = ['redis-server', ...args];
      else argv = args;
      argv[0] = mapBinary(argv[0]!, server.binary);
      if (argv[0] === server.binary && !argv.includes('--protected-mode') && !this.confMentions(argv, mounts, 'protected-mode')) {
        // The official images build redis with protected-mode off.
        argv.push('--protected-mode', 'no');
      }
      if (!argv.includes('--daemonize')) argv.push('--daemonize', 'no');
      if (argv[0] !== server.binary) argv.splice(argv.indexOf('--daemonize'), 2);
      // The images' working directory is /data.
      if (!spec.workingDir) {
        cwd = '/data';
        if (!mounts.some((m) => m.target === '/data')) {
          const scratch = join(this.dir, 'data', spec.name);
          mkdirSync(scratch, { recursive: true });
          mounts.push({ source: scratch, target: '/data', readOnly: false });
        }
      }
    } else {
      const dist = join(repoRoot, 'dist', 'main.js');
      const args = (spec.args ?? []).map((s) => expand(s, env));
      argv = existsSync(dist)
        ? [process.execPath, ...OPERATOR_NODE_FLAGS, dist, ...args]
        : [process.execPath, ...OPERATOR_NODE_FLAGS, '--import', 'tsx', join(repoRoot, 'src', 'main.ts'), ...args];
      cwd = repoRoot;
      env.NODE_PATH = join(repoRoot, 'node_modules');
    }
    mounts.sort((a, b) => a.target.length - b.target.length);
    const steps: string[] = [];
    for (const m of mounts) {
      const isFile = existsSync(m.source) && statSync(m.source).isFile();
      steps.push(isFile ? `mkdir -p "$(dirname ${q(m.target)})" && { [ -e ${q(m.target)} ] || touch ${q(m.target)}; }` : `mkdir -p ${q(m.target)}`);
      steps.push(`mount --bind ${q(m.source)} ${q(m.target)}`);
      if (m.readOnly) steps.push(`mount -o remount,bind,ro ${q(m.target)}`);
    }
    steps.push(`cd ${q(cwd)}`);
    const script = `set -e; ${steps.join(' && ')}; exec ${privileges(this.pod, spec).map(q).join(' ')} "$@"`;
    // Container output outlives the pod (for post-mortems), under .cluster/logs/pods/.
    const logDir = join(this.paths.logs, 'pods');
    mkdirSync(logDir, { recursive: true });
    const logFile = join(logDir, `${this.state.namespace}_${this.state.name}_${this.uid.slice(0, 8)}_${spec.name}.log`);
    const fd = openSync(logFile, 'a');
    const child = spawn('ip', ['netns', 'exec', this.state.netns, 'unshare', '--mount', '--propagation', 'private', '--', 'sh', '-c', script, 'sh', ...argv], {
      detached: true, stdio: ['ignore', fd, fd], env: { ...env, [OWNER_ENV]: this.paths.root }, cwd: '/',
    });
    closeSync(fd);
    const pid = child.pid;
    if (!pid) throw new Error(`could not start ${argv[0]}`);
    c.child = child;
    c.env = env;
    c.pid = pid;
    c.pidStart = procStartTime(pid);
    c.startedAt = now();
    c.exited = undefined;
    child.on('exit', (code, sig) => {
      if (c.child === child) {
        c.exited = { code, signal: sig };
        this.kick(this.pod);
      }
    });
    if (c.lastTerminated) c.restartCount += 1;
    const probeDelay = (spec.readinessProbe?.initialDelaySeconds ?? 0) * 1000;
    c.readiness = { fails: 0, succ: 0, next: Date.now() + probeDelay, busy: false };
    c.liveness = { fails: 0, succ: 0, next: Date.now() + (spec.livenessProbe?.initialDelaySeconds ?? 0) * 1000, busy: false };
    this.save();
    this.log(`${this.key()}: started container ${spec.name} pid ${pid}: ${argv.join(' ')}`);
    this.event('Normal', 'Started', `Started container ${spec.name}`, spec.name);
  }

  private confMentions(argv: string[], mounts: Mount[], directive: string): boolean {
    const conf = argv.find((a) => a.endsWith('.conf'));
    if (!conf) return false;
    const m = mounts.filter((x) => conf === x.target || conf.startsWith(x.target + '/')).sort((a, b) => b.target.length - a.target.length)[0];
    const hostPath = m ? join(m.source, conf.slice(m.target.length)) : conf;
    try {
      return new RegExp(`^\\s*${directive}\\s`, 'm').test(readFileSync(hostPath, 'utf8'));
    } catch {
      return false;
    }
  }

  private runProbes(c: Ctr): void {
    const rp = c.spec.readinessProbe;
    if (!rp) {
      c.ready = true;
    } else if (!c.readiness.busy && Date.now() >= c.readiness.next) {
      c.readiness.busy = true;
      void this.probe(c, rp).then((ok) => {
        const p = c.readiness;
        p.busy = false;
        // Until the first success probe every second, then at the configured period.
        const period = (rp.periodSeconds ?? 10) * 1000;
        p.next = Date.now() + (c.ready ? period : Math.min(period, 1000));
        if (ok) {
          p.fails = 0;
          p.succ += 1;
          if (p.succ >= (rp.successThreshold ?? 1) && !c.ready) { c.ready = true; this.kick(this.pod); }
        } else {
          p.succ = 0;
          p.fails += 1;
          if (p.fails >= (rp.failureThreshold ?? 3) && c.ready) {
            c.ready = false;
            this.event('Warning', 'Unhealthy', 'Readiness probe failed', c.spec.name);
            this.kick(this.pod);
          }
        }
      });
    }
    const lp = c.spec.livenessProbe;
    if (lp && !c.liveness.busy && Date.now() >= c.liveness.next && !c.killing) {
      c.liveness.busy = true;
      void this.probe(c, lp).then(async (ok) => {
        const p = c.liveness;
        p.busy = false;
        p.next = Date.now() + (lp.periodSeconds ?? 10) * 1000;
        if (ok) { p.fails = 0; return; }
        p.fails += 1;
        if (p.fails >= (lp.failureThreshold ?? 3) && c.pid) {
          this.log(`${this.key()}: container ${c.spec.name} failed liveness, restarting`);
          this.event('Warning', 'Unhealthy', 'Liveness probe failed; container will be restarted', c.spec.name);
          c.killing = true;
          await this.stopContainer(c, (this.pod.spec?.terminationGracePeriodSeconds ?? 30) * 1000);
          c.killing = false;
        }
      });
    }
  }

  private async probe(c: Ctr, p: k8s.V1Probe): Promise<boolean> {
    const timeoutMs = Math.max(1, p.timeoutSeconds ?? 1) * 1000;
    const port = (pt: number | string | undefined): number => {
      if (typeof pt === 'number') return pt;
      const named = c.spec.ports?.find((x) => x.name === pt)?.containerPort;
      return named ?? Number(pt);
    };
    try {
      if (p.exec?.command && c.pid) {
        const env = c.env ?? (await containerEnv(this.api, this.pod, c.spec, this.state.ip, SELF.ip).catch(() => ({} as Record<string, string>)));
        const cmd = p.exec.command.map((s) => s);
        cmd[0] = mapBinary(cmd[0]!);
        return await new Promise<boolean>((resolve) => {
          const ch = spawn('nsenter', ['-t', String(c.pid), '-n', '-m', '--', ...cmd], { stdio: 'ignore', env: { ...env, [OWNER_ENV]: this.paths.root }, timeout: timeoutMs, killSignal: 'SIGKILL' });
          ch.on('error', () => resolve(false));
          ch.on('exit', (code) => resolve(code === 0));
        });
      }
      if (p.tcpSocket) {
        const host = p.tcpSocket.host || this.state.ip;
        return await new Promise<boolean>((resolve) => {
          const s = net.connect({ host, port: port(p.tcpSocket!.port as number | string) });
          const done = (ok: boolean): void => { s.destroy(); resolve(ok); };
          s.setTimeout(timeoutMs, () => done(false));
          s.on('connect', () => done(true));
          s.on('error', () => done(false));
        });
      }
      if (p.httpGet) {
        const g = p.httpGet;
        return await new Promise<boolean>((resolve) => {
          const req = http.request({ host: g.host || this.state.ip, port: port(g.port as number | string), path: g.path ?? '/', timeout: timeoutMs }, (res) => {
            res.resume();
            resolve((res.statusCode ?? 0) >= 200 && (res.statusCode ?? 0) < 400);
          });
          req.on('timeout', () => req.destroy());
          req.on('error', () => resolve(false));
          req.end();
        });
      }
      return true;
    } catch {
      return false;
    }
  }

  /** SIGTERM the container's process group, wait, SIGKILL. */
  private async stopContainer(c: Ctr, graceMs: number): Promise<void> {
    if (c.pid) await stopPids([c.pid], graceMs, { group: true });
  }

  async stopAll(graceMs: number): Promise<void> {
    const list = [...this.inits, ...this.ctrs.values()];
    await Promise.all(list.map(async (c) => {
      const child = c.child;
      c.child = undefined; // no restart from the exit handler
      if (child) child.removeAllListeners('exit');
      await this.stopContainer(c, graceMs);
      c.pid = undefined;
    }));
  }

  async teardown(): Promise<void> {
    await teardownPodNetwork(this.state.netns, this.state.veth, this.state.ip || undefined);
    rmrf(this.dir);
    this.log(`${this.key()}: torn down`);
  }

  /** The pod vanished from the API (force deletion): stop at once and clean up. */
  async destroy(): Promise<void> {
    this.gone = true;
    await this.stopAll(0);
    await this.teardown();
  }

  private buildStatus(): Record<string, unknown> {
    const initDone = !!this.state.initDone || this.inits.length === 0;
    const statusOf = (c: Ctr): Record<string, unknown> => {
      const spec = c.spec;
      let state: Record<string, unknown>;
      if (c.pid) state = { running: { startedAt: c.startedAt } };
      else if (c.final) state = { terminated: c.final };
      else state = { waiting: c.waiting ?? { reason: !c.init && !initDone ? 'PodInitializing' : 'ContainerCreating' } };
      const kind = imageKind(spec.image ?? '');
      // The image ID names the server the image ran as (rro://redis-6.2, rro://valkey-8.1, rro://operator).
      const server = kind === 'redis' ? serverNameFor(spec.image ?? '') : kind;
      return {
        name: spec.name, image: spec.image, imageID: typeof server === 'string' ? `rro://${server}` : '',
        containerID: c.pid || c.final ? this.containerID(c) : undefined,
        ready: c.init ? c.final?.exitCode === 0 : !!c.pid && c.ready, started: !!c.pid, restartCount: c.restartCount,
        state, lastState: c.lastTerminated ? { terminated: c.lastTerminated } : {},
      };
    };
    const statuses = (this.pod.spec?.containers ?? []).map((spec) => statusOf(this.ctrs.get(spec.name)!));
    const all = [...this.ctrs.values()];
    let phase = 'Pending';
    if (this.inits.some((c) => c.final && c.final.exitCode !== 0)) phase = 'Failed';
    else if (all.length > 0 && all.every((c) => c.final)) phase = all.every((c) => c.final!.exitCode === 0) ? 'Succeeded' : 'Failed';
    else if (initDone && all.some((c) => c.pid || c.lastTerminated || c.final)) phase = 'Running';
    const ready = all.length > 0 && all.every((c) => !!c.pid && c.ready);
    const conds = this.pod.status?.conditions ?? [];
    const old = (t: string): k8s.V1PodCondition | undefined => conds.find((x) => x.type === t);
    const cond = (type: string, ok: boolean, reason?: string): Record<string, unknown> => {
      const prev = old(type);
      const status = ok ? 'True' : 'False';
      return {
        type, status, reason: ok ? undefined : reason,
        lastProbeTime: null,
        lastTransitionTime: prev && prev.status === status && prev.lastTransitionTime ? new Date(prev.lastTransitionTime as unknown as string).toISOString().replace(/\.\d+Z$/, 'Z') : now(),
      };
    };
    const scheduled = old('PodScheduled');
    const conditions = [
      cond('PodReadyToStartContainers', this.netReady),
      cond('Initialized', initDone, 'ContainersNotInitialized'),
      cond('Ready', ready, 'ContainersNotReady'),
      cond('ContainersReady', ready, 'ContainersNotReady'),
      scheduled ?? { type: 'PodScheduled', status: 'True', lastProbeTime: null, lastTransitionTime: now() },
    ];
    const status: Record<string, unknown> = {
      phase, conditions, hostIP: SELF.ip, hostIPs: [{ ip: SELF.ip }],
      startTime: this.state.createdAt, containerStatuses: statuses,
    };
    if (this.inits.length > 0) status.initContainerStatuses = this.inits.map(statusOf);
    if (this.netReady && this.state.ip) {
      status.podIP = this.state.ip;
      status.podIPs = [{ ip: this.state.ip }];
    }
    if (this.podWaiting) status.message = this.podWaiting.message;
    return status;
  }

  async patchStatus(): Promise<void> {
    if (this.gone || this.deleting) return;
    const status = this.buildStatus();
    const sig = JSON.stringify(status, (k, v: unknown) => (k === 'lastTransitionTime' ? undefined : v));
    // Also when the API's Ready differs from ours (the node lifecycle controller marks the pods of a NotReady node).
    const apiReady = this.pod.status?.conditions?.find((c) => c.type === 'Ready')?.status;
    const ourReady = (status.conditions as { type: string; status: string }[]).find((c) => c.type === 'Ready')?.status;
    if (sig === this.lastStatus && (apiReady === undefined || apiReady === ourReady)) return;
    try {
      await this.api.core.patchNamespacedPodStatus({ name: this.state.name, namespace: this.state.namespace, body: { status } }, mergePatch);
      this.lastStatus = sig;
    } catch (err) {
      const code = (err as { code?: number }).code;
      if (code !== 404) this.log(`${this.key()}: status patch failed: ${code ?? ''} ${err instanceof Error ? err.message.slice(0, 300) : String(err)}`);
    }
  }
}
