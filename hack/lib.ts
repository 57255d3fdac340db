// Helpers shared by the tooling (hack/, test/, bench/): the repository root, running a command,
// polling until something holds, and reading Prometheus text. Never imported by src/.
// Sleeping is node:timers/promises' setTimeout (`import { setTimeout as sleep } from 'node:timers/promises'`).
import { execFile } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

/** The repository root (this file is hack/lib.ts). */
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * Node.js flags the operator runs with, as the image's ENTRYPOINT gives them (the packaging test
 * holds the two equal): V8 otherwise lets the heap grow to several times what is live before it
 * collects, and an operator's live set is small next to its steady garbage (a health pass per
 * resource a second). Two runs of `npm run bench -- --only=scale --scale-steps=100,200`: at 200
 * resources RSS 153 MiB with it and 228 MiB without, idle CPU 26 % of a core against 20 %. V8 takes
 * it on the command line only (not in NODE_OPTIONS).
 */
export const OPERATOR_NODE_FLAGS = ['--optimize-for-size'];

export interface RunResult { code: number; stdout: string; stderr: string }
export interface RunOptions {
  /** Text for stdin; stdin is closed either way. */
  input?: string;
  /** Default 60 s; the command is killed after it. */
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
  /** Default: the repository root. */
  cwd?: string;
}

/** Runs a command to completion; never throws: exit code (1 when it could not start, was killed or timed out) and output. */
export function run(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((res) => {
    const child = execFile(
      cmd, args,
      { cwd: opts.cwd ?? repoRoot, timeout: opts.timeoutMs ?? 60_000, maxBuffer: 64 * 1024 * 1024, env: opts.env ?? process.env },
      (err, stdout, stderr) => {
        const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
        res({ code, stdout: String(stdout), stderr: String(stderr) });
      },
    );
    child.stdin?.on('error', () => undefined).end(opts.input ?? '');
  });
}

/** The stdout of a command that succeeded; else throws with `what` (default: the command line) and its stderr. */
export function stdoutOrThrow(r: RunResult, what: string): string {
  if (r.code !== 0) throw new Error(`${what} failed (${r.code}): ${r.stderr.trim() || r.stdout.trim()}`);
  return r.stdout;
}

/** Runs a command; resolves with its stdout, rejects with its stderr in the message when it fails. */
export async function must(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<string> {
  return stdoutOrThrow(await run(cmd, args, opts), `${cmd} ${args.join(' ')}`);
}

export interface WaitOptions {
  /** Default 60 s. */
  timeoutMs?: number;
  /** Default 250 ms. */
  intervalMs?: number;
  /** What is waited for, in the timeout message. */
  what?: string;
  /** Called after each miss; what it throws ends the wait at once (e.g. the process waited on has died). */
  check?: () => void;
}

/**
 * Polls fn until it returns a value other than undefined/false/null (which is returned), or throws
 * after timeoutMs with `what` and the last error or value in the message. Errors thrown by fn count as "not yet".
 */
export async function waitFor<T>(fn: () => Promise<T | undefined | null | false> | T | undefined | null | false, opts: WaitOptions = {}): Promise<T> {
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined && v !== null && v !== false) return v as T;
      last = v;
    } catch (err) {
      last = err;
    }
    opts.check?.();
    if (Date.now() >= deadline) {
      const detail = last instanceof Error ? last.message : JSON.stringify(last);
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${opts.what ?? 'condition'} (last: ${detail})`);
    }
    await sleep(opts.intervalMs ?? 250);
  }
}

/** One sample of a Prometheus text exposition. */
export interface Sample { name: string; labels: Record<string, string>; value: number }

/** Prometheus text exposition -> its samples (only those of `metric` when given). */
export function parseProm(text: string, metric?: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m || (metric !== undefined && m[1] !== metric)) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_]\w*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}
