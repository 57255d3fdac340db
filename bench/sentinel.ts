// Three redis-sentinel processes on 127.0.0.1:26379-26381 watching plain pods.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { BRIDGE_IP } from '../hack/local-cluster/common.js';

export const SENTINEL_PORTS = [26379, 26380, 26381];

/** redis-sentinel, or redis-server in sentinel mode: the config file first, then `--sentinel`
 * (redis-server reads its first argument as the config file only when it comes first). */
function sentinelCommand(conf: string): [string, string[]] {
  if (spawnSync('sh', ['-c', 'command -v redis-sentinel']).status === 0) return ['redis-sentinel', [conf]];
  return ['redis-server', [conf, '--sentinel']];
}

export interface Sentinels {
  dir: string;
  procs: ChildProcess[];
  /** Text appended to the sentinel logs since `mark`. */
  logSince(mark: number[]): string;
  logMark(): number[];
  stop(): Promise<void>;
}

export async function startSentinels(masterIP: string, downAfterMs: number, failoverTimeoutMs: number): Promise<Sentinels> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-sentinel-'));
  const procs: ChildProcess[] = [];
  const logs: string[] = [];
  for (const port of SENTINEL_PORTS) {
    const conf = join(dir, `sentinel-${port}.conf`);
    const log = join(dir, `sentinel-${port}.log`);
    logs.push(log);
    writeFileSync(conf, [
      // Also on the bridge: the pods ask the sentinels for the master when they start (plain.ts).
      `port ${port}`, `bind 127.0.0.1 ${BRIDGE_IP}`, 'protected-mode no', 'daemonize no', `dir ${dir}`, `logfile ${log}`,
      'sentinel announce-ip 127.0.0.1', `sentinel announce-port ${port}`,
      `sentinel monitor m ${masterIP} 6379 2`,
      `sentinel down-after-milliseconds m ${downAfterMs}`,
      `sentinel failover-timeout m ${failoverTimeoutMs}`,
      'sentinel parallel-syncs m 1', '',
    ].join('\n'));
    const [bin, args] = sentinelCommand(conf);
    procs.push(spawn(bin, args, { stdio: 'ignore' }));
  }
  const logMark = () => logs.map((l) => (existsSync(l) ? readFileSync(l).length : 0));
  const self: Sentinels = {
    dir, procs, logMark,
    logSince(mark) {
      return logs.map((l, i) => (existsSync(l) ? readFileSync(l).subarray(mark[i]).toString() : '')).join('');
    },
    async stop() {
      for (const p of procs) if (p.exitCode === null) p.kill('SIGTERM');
      await Promise.all(procs.map((p) => (p.exitCode !== null ? undefined : new Promise((r) => { p.once('exit', r); setTimeout(r, 3000); }))));
      for (const p of procs) if (p.exitCode === null) p.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await sleep(500);
  return self;
}

/** What the sentinels did, summed from their logs: count of each interesting event. */
export function sentinelEvents(text: string): Record<string, number> {
  const r: Record<string, number> = {};
  for (const ev of ['+sdown', '+odown', '+try-failover', '+switch-master', '+convert-to-slave', '+reboot', '-failover-abort-no-good-slave', '+failover-end']) {
    const n = text.split(` ${ev} `).length - 1;
    if (n) r[ev] = n;
  }
  return r;
}
