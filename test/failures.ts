// Prints the failed tests of a vitest JSON report (file, name, first lines of the error), so the end of
// a CI log, which is all CI keeps, names what failed even after the cluster logs have been dumped.
import { readFileSync } from 'node:fs';

interface Report {
  testResults: {
    name: string;
    message?: string;
    assertionResults: { fullName: string; status: string; failureMessages: string[] }[];
  }[];
}

const path = process.argv[2];
if (!path) throw new Error('usage: tsx test/failures.ts REPORT.json');
const report = JSON.parse(readFileSync(path, 'utf8')) as Report;
const lines: string[] = [];
for (const file of report.testResults) {
  const where = file.name.replace(`${process.cwd()}/`, '');
  // A file that failed outside any test (a hook, an import) has a message and no failed assertion.
  if (file.message) lines.push(`FAIL ${where}: ${file.message.split('\n').slice(0, 8).join('\n    ')}`);
  for (const test of file.assertionResults.filter((t) => t.status === 'failed')) {
    const error = (test.failureMessages[0] ?? '').split('\n').slice(0, 8).join('\n    ');
    lines.push(`FAIL ${where} > ${test.fullName}\n    ${error}`);
  }
}
console.error(lines.length ? `[test] failed:\n${lines.join('\n')}` : '[test] no failed test in the report');
