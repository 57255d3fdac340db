// npx tsx test/mutation/report.ts [FILE]: the scores per file of the last mutation runs (from the
// incremental file, which merges every chunk run) as the table of survivors.md, then every mutant
// left alive or uncovered with its place, mutator and replacement.
import { readFileSync } from 'node:fs';

interface Mutant {
  mutatorName: string;
  replacement?: string;
  status: string;
  location: { start: { line: number; column: number } };
}
const report = JSON.parse(readFileSync(process.argv[2] ?? 'test/mutation/stryker-incremental.json', 'utf8')) as {
  files: Record<string, { mutants: Mutant[] }>;
};

const count = (mutants: Mutant[], ...statuses: string[]) => mutants.filter((m) => statuses.includes(m.status)).length;
console.log('| file | killed | timeout | survived | no coverage | score |');
console.log('| --- | --- | --- | --- | --- | --- |');
const all: Mutant[] = [];
const row = (name: string, mutants: Mutant[]) => {
  const detected = count(mutants, 'Killed', 'Timeout');
  const valid = detected + count(mutants, 'Survived', 'NoCoverage');
  const score = valid === 0 ? 'n/a' : `${((100 * detected) / valid).toFixed(1)} %`;
  console.log(`| ${name} | ${count(mutants, 'Killed')} | ${count(mutants, 'Timeout')} | ${count(mutants, 'Survived')} | ${count(mutants, 'NoCoverage')} | ${score} |`);
};
for (const [name, file] of Object.entries(report.files).sort(([a], [b]) => a.localeCompare(b))) {
  row(name, file.mutants);
  all.push(...file.mutants);
}
row('all', all);
for (const [name, file] of Object.entries(report.files).sort(([a], [b]) => a.localeCompare(b))) {
  for (const m of file.mutants.filter((m) => m.status === 'Survived' || m.status === 'NoCoverage').sort((a, b) => a.location.start.line - b.location.start.line)) {
    console.log(`${name}:${m.location.start.line}:${m.location.start.column} ${m.status} ${m.mutatorName}: ${JSON.stringify(m.replacement ?? '')}`);
  }
}
