import { pino, type Logger, type LevelWithSilent } from 'pino';

export type { Logger };

const SECRET_FIELDS = ['password', 'auth'];

// pino's redaction has no recursive wildcard: cover the field at the top and up to three levels down.
const redactPaths = SECRET_FIELDS.flatMap((field) =>
  ['', '*.', '*.*.', '*.*.*.'].map((prefix) => `${prefix}${field}`),
);

export const log: Logger = pino({
  level: 'info',
  base: { name: 'redis-replication-operator' },
  redact: { paths: redactPaths, censor: '[REDACTED]' },
});

export function setLogLevel(level: LevelWithSilent): void {
  log.level = level;
}
