// What a spec may ask for only when it says so: `config` directives that weaken the pods' Redis, and
// app-user ACL rules that give commands of @dangerous. The zod schema and the CRD's CEL rules
// (schema.ts) are both built from these tables, so the API server and the operator refuse the same.

/** Refused in spec.config unless spec.allowDangerousConfig is true, each with why. */
export const DANGEROUS_DIRECTIVES: Readonly<Record<string, string>> = {
  'enable-debug-command': 'DEBUG can crash the server and read or corrupt its memory',
  'enable-protected-configs': 'CONFIG SET dir and dbfilename would let a client write files wherever the redis user can',
  'enable-module-command': 'MODULE LOAD would let a client run any library in the server',
  loadmodule: 'a module runs inside the server, with every key and password',
  include: 'reads a file of the container, and redis-server prints a line it cannot parse to the pod log',
  'rename-command': 'renames or hides commands the operator sends',
  unixsocket: 'a second way in beside port 6379, outside TLS',
  unixsocketperm: 'a second way in beside port 6379, outside TLS',
  logfile: 'the log leaves the container output (kubectl logs) for a file nothing rotates',
};

/** tls-protocols may not name TLS 1.0 or 1.1 (deprecated by RFC 8996) unless spec.allowDangerousConfig. */
export const DEPRECATED_TLS = /(^|\s)tlsv1(\.1)?(\s|$)/;
export const TLS_PROTOCOLS = 'tls-protocols';

/** The directives of `config` refused without allowDangerousConfig, each with why. */
export function dangerousDirectives(config: Record<string, string>): { directive: string; why: string }[] {
  return Object.entries(config).flatMap(([directive, value]) => {
    const key = directive.toLowerCase();
    const why = DANGEROUS_DIRECTIVES[key] ?? (key === TLS_PROTOCOLS && DEPRECATED_TLS.test(value.toLowerCase()) ? 'TLSv1 and TLSv1.1 are deprecated (RFC 8996)' : undefined);
    return why ? [{ directive, why }] : [];
  });
}

/** What dangerousDirectives refuses, in words. */
export const DANGEROUS_CONFIG_LIST = `${Object.keys(DANGEROUS_DIRECTIVES).join(', ')}, and ${TLS_PROTOCOLS} naming TLSv1 or TLSv1.1`;
export const DANGEROUS_CONFIG_HINT = 'set spec.allowDangerousConfig: true to allow it';

/** Command categories of Redis 7.0.15 (ACL CAT) that hold no command of @dangerous. */
const SAFE_CATEGORIES = ['hash', 'string', 'bitmap', 'geo', 'stream', 'pubsub', 'blocking', 'transaction', 'scripting'] as const;

/** ACL CAT dangerous of Redis 7.0.15: commands, and subcommands as `command|subcommand`. */
export const DANGEROUS_COMMANDS = `
  acl|deluser acl|dryrun acl|getuser acl|list acl|load acl|log acl|save acl|setuser acl|users bgrewriteaof bgsave
  client|kill client|list client|no-evict client|pause client|unblock client|unpause cluster|addslots
  cluster|addslotsrange cluster|bumpepoch cluster|count-failure-reports cluster|delslots cluster|delslotsrange
  cluster|failover cluster|flushslots cluster|forget cluster|meet cluster|replicas cluster|replicate cluster|reset
  cluster|saveconfig cluster|set-config-epoch cluster|setslot cluster|slaves config|get config|resetstat
  config|rewrite config|set debug failover flushall flushdb info keys lastsave latency|doctor latency|graph
  latency|histogram latency|history latency|latest latency|reset migrate module|list module|load module|loadex
  module|unload monitor pfdebug pfselftest psync replconf replicaof restore restore-asking role save shutdown
  slaveof slowlog|get slowlog|len slowlog|reset sort sort_ro swapdb sync`
  .trim()
  .split(/\s+/);

/** Rule words that grant a dangerous command: each one, and a command with a dangerous subcommand as
 * a whole (`+config` grants `config|set`). */
const GRANTS = [...new Set(DANGEROUS_COMMANDS.flatMap((c) => (c.includes('|') ? [c, c.split('|')[0]!] : [c])))];
/** Dangerous commands without subcommands: `+flushall|async` (Redis's first-argument form) grants
 * part of one too. */
const WHOLE = DANGEROUS_COMMANDS.filter((c) => !c.includes('|'));

/** A regular expression (RE2 and JavaScript alike) of any word of [^ ]+ except `words`, built on
 * their trie: a word that leaves it (a character no word has there), or stops inside it. */
function anyWordBut(words: readonly string[]): string {
  const alternatives: string[] = [];
  const visit = (prefix: string) => {
    const next = [...new Set(words.filter((w) => w.length > prefix.length && w.startsWith(prefix)).map((w) => w[prefix.length]!))].sort();
    alternatives.push(`${prefix}[^ ${next.join('')}][^ ]*`);
    if (prefix !== '' && !words.includes(prefix)) alternatives.push(prefix);
    for (const c of next) visit(prefix + c);
  };
  visit('');
  return alternatives.join('|');
}

const alternatives = (words: readonly string[]) => words.map((w) => w.replace(/\|/g, '\\|')).join('|');

export const DROP_DANGEROUS = '-@dangerous';
/** One word of lower-case rules, between spaces, that grants a command of @dangerous: allcommands,
 * +@ any category but the safe ones (those of other servers and versions included), or one of those
 * commands. */
export const DANGEROUS_GRANT = new RegExp(
  ` (?:allcommands|\\+@(?:${anyWordBut(SAFE_CATEGORIES)})|\\+(?:${alternatives(GRANTS)})|\\+(?:${alternatives(WHOLE)})\\|[^ ]*) `,
);
/** A selector: rules in parentheses, with commands of their own. */
export const SELECTOR = /(^| )[(]/;

/** The rules after the last -@dangerous (all of them without one), padded with spaces and lower
 * case: Redis applies rules left to right and -@dangerous takes away every dangerous command granted
 * before it. CEL computes the same with the same functions (schema.ts). */
function rulesAfterLastDrop(rules: string): string {
  const padded = ` ${rules.toLowerCase()} `;
  return padded.substring(padded.lastIndexOf(` ${DROP_DANGEROUS} `) + 1);
}

/** The rule that gives an app user a command of @dangerous, or undefined. A selector counts as one:
 * no -@dangerous outside it reaches its commands. */
export function dangerousGrant(rules: string): string | undefined {
  if (SELECTOR.test(rules)) return rules.match(/(?:^| )([(][^ ]*)/)![1];
  return rulesAfterLastDrop(rules).match(DANGEROUS_GRANT)?.[0].trim();
}

export const DANGEROUS_RULES_MESSAGE =
  `rules may not give the user commands of @dangerous (FLUSHALL, KEYS, CONFIG, DEBUG, SHUTDOWN...: +@all, allcommands, any category but ${SAFE_CATEGORIES.join(', ')}, or such a command) ` +
  `after the last ${DROP_DANGEROUS}, nor use selectors (parentheses): end them with ${DROP_DANGEROUS} (e.g. "~app:* +@read +@write ${DROP_DANGEROUS}") or set allowDangerousCommands: true`;
