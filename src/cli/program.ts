// What the command-line entries share: argument parsing with usage errors, and running only when
// their file is the program, not when tests import it.
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs, type ParseArgsConfig } from 'node:util';

/** Bad arguments: the message, then the usage, exit status 2. */
export class UsageError extends Error {}

/** util.parseArgs with positionals, its errors turned into one-line usage errors. */
export function parseCommandLine<T extends NonNullable<ParseArgsConfig['options']>>(args: string[], options: T) {
  try {
    return parseArgs({ args, options, allowPositionals: true });
  } catch (e) {
    const { code, message } = e as { code?: string; message: string };
    if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') throw new UsageError(`unknown option ${/'([^']*)'/.exec(message)?.[1] ?? message}`);
    if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') throw new UsageError(`${/'(-[^ ']*)/.exec(message)?.[1] ?? 'an option'} needs a value`);
    throw new UsageError(message);
  }
}

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
