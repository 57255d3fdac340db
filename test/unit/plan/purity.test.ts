// The decision layer stays pure: src/plan/ may import only itself, the API schemas, cron-parser (given
// the time, it reads no clock), the INFO parser,
// semantic equality and client-node *types*. Anything that does I/O (API clients, Redis, timers,
// the clock, the environment) belongs to src/controller/.
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const dir = new URL('../../../src/plan/', import.meta.url);
const ALLOWED = [/^\.\/[\w-]+\.js$/, /^\.\.\/api\/(schema|backup)\.js$/, /^\.\.\/redis\/info\.js$/, /^\.\.\/kube\/semantic\.js$/, /^cron-parser$/];
const IMPURE = [/\bprocess\./, /\bDate\.now\(/, /\bMath\.random\(/, /\bset(Timeout|Interval|Immediate)\(/, /\bfetch\(/, /\bnew Date\(\)/];

function violations(file: string, source: string): string[] {
  const found: string[] = [];
  for (const m of source.matchAll(/^import\s+(type\s+)?[^;]*?from\s+'([^']+)';/gms)) {
    const [, typeOnly, from] = m as unknown as [string, string | undefined, string];
    if (from === '@kubernetes/client-node' && typeOnly) continue;
    if (!ALLOWED.some((re) => re.test(from))) found.push(`${file} imports ${from}`);
  }
  for (const re of IMPURE) if (re.test(source)) found.push(`${file} uses ${re.source}`);
  return found;
}

describe('src/plan is pure', () => {
  it('imports nothing that does I/O and reads no clock or environment', () => {
    const files = readdirSync(dir).filter((f) => f.endsWith('.ts'));
    expect(files.length).toBeGreaterThan(5);
    expect(files.flatMap((f) => violations(f, readFileSync(new URL(f, dir), 'utf8')))).toEqual([]);
  });

  it('catches an impure import (the check itself works)', () => {
    expect(violations('x.ts', "import { RedisPool } from '../redis/client.js';\nconst t = Date.now();")).toEqual([
      'x.ts imports ../redis/client.js',
      'x.ts uses \\bDate\\.now\\(',
    ]);
    expect(violations('y.ts', "import { CoreV1Api } from '@kubernetes/client-node';")).toEqual(['y.ts imports @kubernetes/client-node']);
  });
});
