// Runs a command-line entry only when its file is the program, not when tests import it.
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export function runIfEntry(moduleUrl: string, label: string, main: (argv: string[]) => Promise<number>): void {
  const arg = process.argv[1];
  let entry = false;
  try {
    entry = arg !== undefined && realpathSync(arg) === realpathSync(fileURLToPath(moduleUrl));
  } catch {
    entry = false;
  }
  if (!entry) return;
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`${label}: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    },
  );
}
