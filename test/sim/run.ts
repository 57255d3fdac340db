// npm run sim -- --seed N: replays one schedule (--trace prints it even when it passes; --calls adds
// the operator's API writes and Redis commands to it).
// npm run sim -- --from N --schedules M [--steps S]: runs seeds N..N+M-1. A failing seed is printed
// with its trace; the last line reads `M schedules, F failed, ...`, and the exit code is 1 when F > 0.
import { parseArgs } from 'node:util';
import { describeFailure, simulateRange, summarize } from './simulation.js';

const { values } = parseArgs({
  options: {
    seed: { type: 'string' },
    from: { type: 'string', default: '1' },
    schedules: { type: 'string', default: '2000' },
    steps: { type: 'string', default: '40' },
    trace: { type: 'boolean', default: false },
    calls: { type: 'boolean', default: false },
  },
});
const integer = (name: string, text: string) => {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`--${name}: not a whole number: ${text}`);
  return n;
};
const single = values.seed !== undefined;
const from = integer(single ? 'seed' : 'from', values.seed ?? values.from);
const started = performance.now();
const range = await simulateRange(from, single ? 1 : integer('schedules', values.schedules), {
  steps: integer('steps', values.steps),
  calls: values.calls,
  onResult: (r) => {
    if (r.violation) console.log(describeFailure(r));
    else if (values.trace) console.log(r.trace.map((l) => `  ${l}`).join('\n'));
  },
});
console.log(summarize(range, (performance.now() - started) / 1000));
process.exitCode = range.failures.length > 0 ? 1 : 0;
