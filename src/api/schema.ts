// The RedisReplication API: the one source of truth. The CRD in crds/ is generated from these
// schemas (npm run crd:generate) and a unit test fails when the two differ.
import { z } from 'zod';
import { LABEL, MAX_RESOURCE_NAME_LENGTH } from '../plan/names.js';
import { MAX_RETENTION_COUNT, RETENTION, RETENTION_MESSAGE, SCHEDULE, SCHEDULE_MESSAGE } from '../plan/backup-schedule.js';
import {
  DANGEROUS_CONFIG_HINT,
  DANGEROUS_CONFIG_LIST,
  DANGEROUS_GRANT,
  DANGEROUS_RULES_MESSAGE,
  DANGEROUS_DIRECTIVES,
  DEPRECATED_TLS,
  DROP_DANGEROUS,
  SELECTOR,
  TLS_PROTOCOLS,
  dangerousDirectives,
  dangerousGrant,
} from './dangerous.js';

export const GROUP = 'redis.replication.dev';
export const VERSION = 'v1alpha1';
export const KIND = 'RedisReplication';
export const PLURAL = 'redisreplications';

/** Directives the operator sets itself; a user's `config` may not name them. */
export const OWNED_DIRECTIVES = [
  'replicaof',
  'slaveof',
  'port',
  'bind',
  'requirepass',
  'masterauth',
  // With auth, replicas authenticate as the replication user; an ACL file would make redis-server
  // refuse the users of auth.conf and not start.
  'masteruser',
  'aclfile',
  // ACL users are auth.users (with auth, a user nobody declares is removed from every pod).
  'user',
  'replica-read-only',
  'slave-read-only',
  'dir',
  'protected-mode',
  'min-replicas-to-write',
  'min-replicas-max-lag',
  'min-slaves-to-write',
  'min-slaves-max-lag',
  'tls-port',
  'tls-cert-file',
  'tls-key-file',
  'tls-ca-cert-file',
  'tls-replication',
  'tls-auth-clients',
] as const;

const MAX_TIER1_REPLICAS = 100;
const MAX_CASCADE_TIERS = 3;
const MAX_REPLICAS_PER_PARENT = 10;
/** Upper bound on the pods of one resource, primary included. */
export const MAX_PODS = 250;

/** A CEL string literal of `text` (a regular expression's source keeps its backslashes). */
const celString = (text: string): string => `'${text.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
/** A CEL set of strings, as a map literal: `in` a map costs one lookup where a list costs a scan
 * (the API server refuses a CRD whose rules could cost too much). */
const celSet = (items: readonly string[]): string => `{${items.map((i) => `${celString(i)}: true`).join(', ')}}`;

/** A Kubernetes quantity as resource.ParseQuantity reads it, without a sign: none of the quantities
 * of a spec can be negative. CEL's isQuantity() is the API server's own parser. */
const QUANTITY = /^\+?([0-9]+(\.[0-9]*)?|\.[0-9]+)([KMGTPE]i|[numkMGTPE]|[eE][+-]?[0-9]+)?$/;
const quantityMessage = 'must be a quantity such as 500m, 256Mi, 1Gi or 2, not negative';
const isQuantity = (q: string | number): boolean => (typeof q === 'number' ? q >= 0 : QUANTITY.test(q));

/** A resource quantity (cpu, memory...): a string or a number, as in a pod. The CRD makes it
 * int-or-string (structural() in crd.ts), the only union a CRD schema has: the API server takes
 * `cpu: 1` and `cpu: "0.5"`, and refuses the number 0.5 itself, naming the field. */
const quantity = z
  .union([z.string().max(64), z.number()])
  .refine(isQuantity, quantityMessage)
  .meta({
    'x-kubernetes-validations': [
      { rule: "type(self) == int ? self >= 0 : isQuantity(self) && !self.startsWith('-')", message: quantityMessage, reason: 'FieldValueInvalid' },
    ],
  });
/** At most `max` keys, in both layers (`maxProperties` is the CRD's, the refinement the operator's). */
const atMost = <T extends z.ZodType<Record<string, unknown>>>(map: T, max: number) =>
  map.refine((m) => Object.keys(m).length <= max, `may have at most ${max} entries`).meta({ maxProperties: max });
const quantityMap = atMost(z.record(z.string().max(253), quantity), 32);

/** A size: a quantity above zero. */
const sizeMessage = 'must be a quantity above zero such as 1Gi or 500Mi';
const size = z
  .string()
  .max(64)
  .refine((q) => QUANTITY.test(q) && /[1-9]/.test(q.match(QUANTITY)![1]!), sizeMessage)
  .meta({ 'x-kubernetes-validations': [{ rule: "isQuantity(self) && quantity(self).isGreaterThan(quantity('0'))", message: sizeMessage, reason: 'FieldValueInvalid' }] });

/** The name of a Kubernetes object (a Secret, a storage or priority class): a DNS-1123 subdomain, or
 * "" where that means none. */
const SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
function objectName(what: string, opts: { empty: boolean; description?: string }) {
  const message = `must be the name of ${what}: lowercase letters, digits, '-' and '.', starting and ending with a letter or a digit${opts.empty ? ', or empty' : ''}`;
  const rule = `self.matches(${celString(SUBDOMAIN.source)})`;
  return (opts.empty ? z.string() : z.string().min(1))
    .max(253)
    .refine((n) => (opts.empty && n === '') || SUBDOMAIN.test(n), message)
    .meta({
      ...(opts.description ? { description: opts.description } : {}),
      'x-kubernetes-validations': [{ rule: opts.empty ? `self == '' || ${rule}` : rule, message, reason: 'FieldValueInvalid' }],
    });
}

/** The rule for the Secrets the operator keeps for a resource, in words. */
const keptSecrets = (names: string) =>
  `The operator keeps what the pods use in Secrets it creates and owns (${names}): one of those names that it did not create for this resource ` +
  'is neither used nor overwritten (SecretsAvailable False, reason SecretNotOwned) and no pod starts with it.';

/** A Secret the spec names: whoever may create a RedisReplication need not be allowed to read
 * Secrets, so the operator uses only one its owner allowed (src/plan/secrets.ts). */
const namedSecret = (holds: string, opts: { empty: boolean }) =>
  objectName('a Secret', {
    ...opts,
    description:
      `A Secret of the namespace with ${holds}. It is used only if it carries the label ${LABEL.allow}: <this resource's name> ` +
      '(or is owned by this resource), so that a Secret reaches only resources its owner allowed; otherwise SecretsAvailable is False, ' +
      'reason SecretNotAllowed, with the label to add.',
  });

const resourcesSchema = z
  .object({
    limits: quantityMap.optional(),
    requests: quantityMap.optional(),
  })
  .strict();

const cascadeTierSchema = z
  .object({
    replicasPerParent: z.number().int().min(1).max(MAX_REPLICAS_PER_PARENT),
  })
  .strict();

/** A Kubernetes object passed through as it is (affinity, a toleration...): the API server checks it
 * when the pod is created. */
const k8sObject = z.looseObject({}).meta({ 'x-kubernetes-preserve-unknown-fields': true });

/** The resource's name: a DNS-1035 label (its Services are named after it), short enough for every
 * name derived from it to fit (MAX_RESOURCE_NAME_LENGTH, plan/names.ts). The API server checks
 * only that it is a DNS-1123 subdomain, so `my.cache` or `1cache` would pass it and fail later. */
const DNS_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const nameMessage = {
  length: `may be at most ${MAX_RESOURCE_NAME_LENGTH} characters: the Service <name>-primary must fit in 63`,
  form: "must be a DNS-1035 label (it names the resource's Services): lowercase letters, digits and '-', starting with a letter and ending with a letter or a digit",
};
export const resourceNameSchema = z.string().max(MAX_RESOURCE_NAME_LENGTH, nameMessage.length).regex(DNS_LABEL, nameMessage.form);
/** The same, as CEL rules of the CRD's root (the one place a rule may read metadata.name). */
export const resourceNameValidations = [
  { rule: `self.metadata.name.size() <= ${MAX_RESOURCE_NAME_LENGTH}`, message: `metadata.name ${nameMessage.length}`, reason: 'FieldValueInvalid', fieldPath: '.metadata' },
  { rule: `self.metadata.name.matches(${celString(DNS_LABEL.source)})`, message: `metadata.name ${nameMessage.form}`, reason: 'FieldValueInvalid', fieldPath: '.metadata' },
];

const ownedList = OWNED_DIRECTIVES.map((d) => `'${d}'`).join(', ');
const DIRECTIVE_NAME = /^[A-Za-z0-9][A-Za-z0-9-]*$/;

const MAX_APP_USERS = 32;
const USER_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
/** Taken by the operator (its own user, the replication user) and by Redis. */
const RESERVED_USER = /^(default$|rro-)/;
/** Rules are written into auth.conf, one user a line, split at spaces: a line break would add
 * directives, a quote would unbalance the line (redis-server then refuses to start). Passwords come
 * from the Secret only: no `>`, `<`, `#`, `!` rule, no nopass, and nothing that switches the user
 * off or resets what the operator sets first. */
const RULES_CHARACTERS = /^[^\x00-\x1f\x7f"']*$/;
const RULES_FORBIDDEN = /(^|\s)([<>#!]|(on|off|reset|nopass|resetpass)(\s|$))/;
const rulesMessage = {
  characters: 'rules may not contain a line break, a control character or a quote',
  forbidden: 'rules may not set passwords (>, <, #, !, nopass, resetpass) nor on, off or reset: the password comes from the Secret',
};

// dangerousGrant (dangerous.ts) in CEL, with the same functions and regular expressions.
const dangerousRulesCel = (() => {
  const padded = "(' ' + self.rules.lowerAscii() + ' ')";
  const tail = `${padded}.substring(${padded}.lastIndexOf(${celString(` ${DROP_DANGEROUS} `)}) + 1)`;
  return (
    '(has(self.allowDangerousCommands) && self.allowDangerousCommands) || ' +
    `(!self.rules.matches(${celString(SELECTOR.source)}) && !${tail}.matches(${celString(DANGEROUS_GRANT.source)}))`
  );
})();

const appUserSchema = z
  .object({
    /** The ACL user name; `default` and names starting with `rro-` are taken. */
    name: z
      .string()
      .min(1)
      .max(64)
      .regex(USER_NAME, 'a user name is letters, digits, dots, dashes and underscores')
      .refine((n) => !RESERVED_USER.test(n), 'default and names starting with rro- are taken'),
    /** The Secret holding the user's password (key `password`). */
    secretName: namedSecret('the user\'s password (key "password")', { empty: false }),
    /** ACL rules, as ACL SETUSER takes them, separated by spaces: e.g. `~app:* +@read +@write -@dangerous`. */
    rules: z
      .string()
      .min(1)
      .max(1024)
      // Refinements, not a `pattern`: the CEL rules below say what is wrong in words.
      .refine((r) => RULES_CHARACTERS.test(r), rulesMessage.characters)
      .refine((r) => !RULES_FORBIDDEN.test(r), rulesMessage.forbidden),
    allowDangerousCommands: z
      .boolean()
      .optional()
      .meta({
        description:
          'true lets rules give the user commands of @dangerous (FLUSHALL, KEYS, CONFIG, DEBUG, SHUTDOWN...) and use selectors. ' +
          `Without it, rules must take them away with a final ${DROP_DANGEROUS}, e.g. "~app:* +@read +@write ${DROP_DANGEROUS}".`,
      }),
  })
  .strict()
  .refine((u) => u.allowDangerousCommands === true || dangerousGrant(u.rules) === undefined, { message: DANGEROUS_RULES_MESSAGE, path: ['rules'] })
  .meta({
    'x-kubernetes-validations': [
      { rule: `!self.name.matches(${celString(RESERVED_USER.source)})`, message: 'auth.users: default and names starting with rro- are taken', reason: 'FieldValueForbidden' },
      { rule: `self.rules.matches(${celString(RULES_CHARACTERS.source)})`, message: `auth.users: ${rulesMessage.characters}`, reason: 'FieldValueInvalid' },
      { rule: `!self.rules.matches(${celString(RULES_FORBIDDEN.source)})`, message: `auth.users: ${rulesMessage.forbidden}`, reason: 'FieldValueForbidden' },
      { rule: dangerousRulesCel, message: `auth.users: ${DANGEROUS_RULES_MESSAGE}`, reason: 'FieldValueForbidden', fieldPath: '.rules' },
    ],
  });

/** An S3-compatible object store (path-style addressing). Its Secret holds the keys accessKeyId and
 * secretAccessKey; like every Secret the spec names, it is used only if its owner allowed this resource. */
const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const OBJECT_PATH = /^[A-Za-z0-9!_.*'()\/-]*$/;
const ENDPOINT = /^https?:\/\/[^\s]+$/;
const endpointMessage = 'must be an http:// or https:// URL';
const objectStoreSchema = z
  .object({
    endpoint: z
      .string()
      .min(1)
      .max(512)
      .regex(ENDPOINT, endpointMessage)
      .meta({ 'x-kubernetes-validations': [{ rule: `self.matches(${celString(ENDPOINT.source)})`, message: endpointMessage, reason: 'FieldValueInvalid' }] }),
    bucket: z.string().regex(BUCKET, 'must be an S3 bucket name: 3 to 63 lowercase letters, digits, dots and dashes'),
    /** The prefix under which every file of this store goes: <path>/<resource>/base/<timestamp>/. */
    path: z.string().max(512).regex(OBJECT_PATH, 'may hold letters, digits, slashes and ! _ . * \' ( ) -').default(''),
    region: z.string().min(1).max(64).default('us-east-1'),
    credentialsSecret: namedSecret('the keys accessKeyId and secretAccessKey', { empty: false }),
  })
  .strict();
export type ObjectStore = z.output<typeof objectStoreSchema>;

/** A cron expression: the operator creates a RedisBackup at each of its times (plan/backup-schedule.ts). */
const scheduleSchema = z
  .string()
  .max(128)
  .regex(SCHEDULE, SCHEDULE_MESSAGE)
  .meta({
    description: "Cron expression, 5 fields, UTC (minute hour day-of-month month day-of-week, such as '0 3 * * *'): a RedisBackup <name>-<yyyymmddhhmm> is created at each time.",
    'x-kubernetes-validations': [{ rule: `self.matches(${celString(SCHEDULE.source)})`, message: SCHEDULE_MESSAGE, reason: 'FieldValueInvalid' }],
  });

/** How many Completed backups to keep (a number), or for how long (12h, 7d). Int-or-string in the CRD. */
const retentionSchema = z
  .union([z.number(), z.string().max(5)], { error: RETENTION_MESSAGE })
  .refine((r) => (typeof r === 'number' ? Number.isInteger(r) && r >= 1 && r <= MAX_RETENTION_COUNT : RETENTION.test(r)), RETENTION_MESSAGE)
  .meta({
    description:
      'A count (5: the 5 newest Completed backups stay) or an age (12h, 7d: backups taken longer ago go). Older Completed and Failed RedisBackups of this ' +
      'resource are deleted, their files in the object store first; the newest Completed backup, and Pending and Running ones, never are.',
    'x-kubernetes-validations': [
      { rule: `type(self) == int ? self >= 1 && self <= ${MAX_RETENTION_COUNT} : self.matches(${celString(RETENTION.source)})`, message: RETENTION_MESSAGE, reason: 'FieldValueInvalid' },
    ],
  });

/** Pod count of a spec, primary included; mirrored by a CEL rule on the CRD. */
export function totalPods(replicas: number, cascade: { replicasPerParent: number }[]): number {
  let tier = replicas;
  let total = 1 + tier;
  for (const c of cascade) {
    tier *= c.replicasPerParent;
    total += tier;
  }
  return total;
}

// CEL has no loop over a product, so the rule spells out each cascade depth up to MAX_CASCADE_TIERS.
const totalPodsCel = (() => {
  const c = (i: number) => `self.cascade[${i}].replicasPerParent`;
  const r = 'self.replicas';
  const depth1 = `${r} * (1 + ${c(0)})`;
  const depth2 = `${r} * (1 + ${c(0)} * (1 + ${c(1)}))`;
  const depth3 = `${r} * (1 + ${c(0)} * (1 + ${c(1)} * (1 + ${c(2)})))`;
  return (
    `1 + (!has(self.cascade) || size(self.cascade) == 0 ? ${r} : ` +
    `size(self.cascade) == 1 ? ${depth1} : size(self.cascade) == 2 ? ${depth2} : ${depth3}) <= ${MAX_PODS}`
  );
})();

// dangerousDirectives (dangerous.ts) in CEL: on the spec, which holds allowDangerousConfig.
const dangerousKeyCel =
  `k.lowerAscii() in ${celSet(Object.keys(DANGEROUS_DIRECTIVES))} || ` +
  `(k.lowerAscii() == ${celString(TLS_PROTOCOLS)} && self.config[k].lowerAscii().matches(${celString(DEPRECATED_TLS.source)}))`;
const dangerousConfigCel = `(has(self.allowDangerousConfig) && self.allowDangerousConfig) || !has(self.config) || !self.config.exists(k, ${dangerousKeyCel})`;

export const specSchema = z
  .object({
    image: z.string().min(1).max(512).default('redis:8.0'),
    replicas: z.number().int().min(0).max(MAX_TIER1_REPLICAS).default(1),
    cascade: z.array(cascadeTierSchema).max(MAX_CASCADE_TIERS).default([]),
    // On by default: a Redis reachable over the pod network without a password is open to every pod
    // of the cluster. Without secretName the operator generates the password (plan/secrets.ts).
    auth: z
      .object({
        enabled: z.boolean().default(true).meta({ description: 'false: no password, anonymous commands are accepted (the explicit opt-out).' }),
        /** The default user's password (key `password`): requirepass, what existing clients use. */
        secretName: namedSecret('the default user\'s password (key "password"); absent: the operator generates one in <name>-auth', {
          empty: false,
        }).optional(),
        /** Application users, each with the password of its Secret (key `password`) and ACL rules. */
        users: z
          .array(appUserSchema)
          .max(MAX_APP_USERS)
          .default([])
          .refine((users) => new Set(users.map((u) => u.name)).size === users.length, 'two users have the same name')
          .meta({ 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['name'] }),
      })
      .strict()
      .default({ enabled: true, users: [] })
      .meta({
        description:
          'Password and ACL users, on unless enabled is false. Without secretName the operator generates a password once, in Secret <name>-auth (key password), ' +
          `and never changes it. ${keptSecrets('<name>-auth, <name>-applied-auth')}`,
      }),
    /** TLS on port 6379 and on replication links; certificates from secretName, else from the
     * operator's own CA (published in `<name>-tls-ca`), renewed before they expire. */
    tls: z
      .object({
        enabled: z.boolean().default(false),
        /** A Secret with tls.crt, tls.key and ca.crt (cert-manager's shape); empty: the operator's CA. */
        secretName: namedSecret("tls.crt, tls.key and ca.crt (cert-manager's shape); empty: the operator's own CA", { empty: true }).default(''),
      })
      .strict()
      .optional()
      .meta({ description: `TLS on port 6379 and on replication. ${keptSecrets('<name>-tls, <name>-tls-ca and <name>-tls-ca-key')}` }),
    persistence: z
      .object({
        enabled: z.boolean().default(false),
        size: size.default('1Gi'),
        storageClassName: objectName('a storage class', { empty: true }).default(''),
      })
      .strict()
      .default({ enabled: false, size: '1Gi', storageClassName: '' }),
    resources: resourcesSchema.default({}),
    config: atMost(
      z.record(
        z.string().min(1).max(128).regex(DIRECTIVE_NAME, 'a directive name is letters, digits and dashes'),
        z.string().max(1024).refine((v) => !/[\r\n]/.test(v), 'a value may not contain a line break'),
      ),
      64,
    )
      .refine((c) => !Object.keys(c).some((k) => (OWNED_DIRECTIVES as readonly string[]).includes(k.trim().toLowerCase())), {
        message: `may not set a directive the operator owns: ${OWNED_DIRECTIVES.join(', ')}`,
      })
      .default({})
      .meta({
        description:
          `Extra redis.conf directives. Refused: those the operator sets (${OWNED_DIRECTIVES.join(', ')}), and unless ` +
          `spec.allowDangerousConfig is true, those that weaken the server (${DANGEROUS_CONFIG_LIST}).`,
        'x-kubernetes-validations': [
          {
            rule: `self.all(k, !(k.trim().lowerAscii() in [${ownedList}]))`,
            message: `config may not set a directive the operator owns: ${OWNED_DIRECTIVES.join(', ')}`,
            reason: 'FieldValueForbidden',
          },
          {
            // A space would smuggle arguments past the rule above ("replicaof x": replicaof with more words).
            rule: `self.all(k, k.matches('${DIRECTIVE_NAME.source}'))`,
            message: 'config: a directive name is letters, digits and dashes',
            reason: 'FieldValueInvalid',
          },
          {
            rule: `self.all(k, !self[k].contains('\\n') && !self[k].contains('\\r'))`,
            message: 'config: a value may not contain a line break',
            reason: 'FieldValueInvalid',
          },
        ],
      }),
    readService: z
      .object({
        maxLagSeconds: z.number().int().min(0).max(3600).default(5),
        includePrimary: z.boolean().default(false),
        /** Topology-aware routing (trafficDistribution: PreferClose): a client's connections go to
         * read replicas in its own zone when there are any. false: spread over every read replica. */
        preferClose: z.boolean().default(true),
      })
      .strict()
      .default({ maxLagSeconds: 5, includePrimary: false, preferClose: true }),
    failover: z
      .object({
        enabled: z.boolean().default(true),
        primaryDownSeconds: z.number().int().min(1).max(600).default(3),
        /** Opt-in: after the primary has been in doubt this long, promote the best replica that answers
         * even if a silent or restarted pod may hold more data. Absent: never; the operator waits. */
        acceptDataLossAfterSeconds: z.number().int().min(1).max(86_400).optional(),
      })
      .strict()
      .default({ enabled: true, primaryDownSeconds: 3 }),
    /** Where the pods run: passed to every redis pod; by default they spread across nodes and zones. */
    placement: z
      .object({
        nodeSelector: z.record(z.string().max(317), z.string().max(63)).optional(),
        tolerations: z.array(k8sObject).max(32).optional(),
        affinity: k8sObject.optional(),
        /** Replaces the default spread (nodes, then zones, as a preference). */
        topologySpreadConstraints: z.array(k8sObject).max(8).optional(),
        priorityClassName: objectName('a priority class', { empty: true }).optional(),
        /** Tier-1 replicas spread across zones; every cascade replica runs in its parent's zone. */
        zoneAware: z.boolean().default(false),
      })
      .strict()
      .default({ zoneAware: false }),
    /** How a change of the pod template reaches running pods (see src/plan/rollout.ts). */
    updateStrategy: z
      .object({
        type: z.enum(['RollingUpdate', 'OnDelete']).default('RollingUpdate'),
        /** Supervised: every replica is rolled, the primary is left for the user to switch over. */
        primary: z.enum(['Unsupervised', 'Supervised']).default('Unsupervised'),
        /** A roll that has not settled this long after its last step stops and says so (as a Deployment's). */
        progressDeadlineSeconds: z.number().int().min(10).max(86_400).default(300),
      })
      .strict()
      .default({ type: 'RollingUpdate', primary: 'Unsupervised', progressDeadlineSeconds: 300 }),
    allowDangerousConfig: z
      .boolean()
      .optional()
      .meta({
        description:
          `true lets config set directives that weaken the server: ${DANGEROUS_CONFIG_LIST}. ` +
          'Refused otherwise; meant for a debugging session or a module you trust.',
      }),
    /** Who may connect to port 6379 of the pods (src/plan/network.ts). */
    networkPolicy: z
      .object({
        enabled: z.boolean().default(true),
        /** NetworkPolicyPeers (podSelector, namespaceSelector, ipBlock), passed through: the clients. */
        from: z.array(k8sObject).max(32).default([]),
      })
      .strict()
      .default({ enabled: true, from: [] })
      .meta({
        description:
          'A NetworkPolicy <name>-redis, owned by the resource, lets only the resource\'s own pods, the operator\'s namespace and the peers of from ' +
          '(core/v1 NetworkPolicyPeer objects: your clients) reach port 6379. enabled false: no policy (every pod that can route to them may connect).',
      }),
    /** The replication backlog sized by the operator (src/plan/backlog.ts). */
    replicationBacklog: z
      .object({
        auto: z.boolean().default(false),
        minCoverageSeconds: z.number().int().min(1).max(86_400).default(60),
        maxSize: size.default('256Mi'),
      })
      .strict()
      .optional()
      .meta({
        description:
          'auto true: the operator raises repl-backlog-size at run time (CONFIG SET on every pod) so that the backlog covers at least minCoverageSeconds ' +
          'of the write stream, and the longest disconnect of a replica in a full-resync loop, with twice that as headroom. It never lowers it below ' +
          'config.repl-backlog-size nor below what it set before, and never raises it above maxSize nor a quarter of the memory limit.',
      }),
    /** Backups of this resource (RedisBackup objects) go to this object store. */
    backup: z
      .object({
        objectStore: objectStoreSchema,
        schedule: scheduleSchema.optional(),
        retention: retentionSchema.optional(),
        /** Continuous archiving of the replication stream (controller/archive.ts), for point-in-time recovery. */
        archive: z.boolean().optional(),
      })
      .strict()
      .optional(),
    /** A new resource made from a backup: its primary starts from the backup's RDB (checked first). */
    bootstrap: z
      .object({
        recovery: z
          .object({
            /** A Completed RedisBackup of this namespace. */
            backup: objectName('a RedisBackup', { empty: false }).optional(),
            /** Or point-in-time recovery from the store a resource backed up and archived to: its
             * newest base backup that the archive carries to targetTime, replayed up to it; without
             * targetTime, up to the latest point archived (docs/backups.md). */
            objectStore: objectStoreSchema.optional(),
            resource: resourceNameSchema.optional(),
            targetTime: z.iso.datetime({ offset: true }).optional(),
          })
          .strict(),
      })
      .strict()
      .optional(),
    /** Bounded loss: the primary refuses writes unless this many replicas are within maxLagSeconds. */
    writeQuorum: z
      .object({
        minReplicas: z.number().int().min(1).max(MAX_TIER1_REPLICAS),
        maxLagSeconds: z.number().int().min(1).max(3600).default(10),
      })
      .strict()
      .optional(),
  })
  .strict()
  .superRefine((spec, ctx) => {
    if (spec.allowDangerousConfig) return;
    for (const { directive, why } of dangerousDirectives(spec.config)) {
      ctx.addIssue({ code: 'custom', path: ['config', directive], message: `${why}; ${DANGEROUS_CONFIG_HINT}` });
    }
  })
  .meta({
    'x-kubernetes-validations': [
      {
        rule: totalPodsCel,
        message: `the spec asks for more than ${MAX_PODS} pods in total (primary + replicas of every tier)`,
        fieldPath: '.replicas',
      },
      {
        rule: dangerousConfigCel,
        message: `config may not set a directive that weakens the server (${DANGEROUS_CONFIG_LIST}); ${DANGEROUS_CONFIG_HINT}`,
        fieldPath: '.config',
        reason: 'FieldValueForbidden',
      },
      {
        // More than there are replicas would refuse every write.
        rule: '!has(self.writeQuorum) || self.writeQuorum.minReplicas <= (has(self.replicas) ? self.replicas : 1)',
        message: 'writeQuorum.minReplicas may not exceed replicas: the primary would refuse every write',
        fieldPath: '.writeQuorum.minReplicas',
      },
      {
        // A pod rolled onto TLS could not replicate from a parent still speaking plain TCP, nor the
        // other way round: the switch would need every pod at once, i.e. downtime.
        rule: '(has(self.tls) && self.tls.enabled) == (has(oldSelf.tls) && oldSelf.tls.enabled)',
        message: 'tls.enabled cannot change on an existing resource: a rolled pod could not replicate from its parent; create a new resource (and move the data) instead',
        fieldPath: '.tls.enabled',
      },
      {
        // The data a resource started from is part of its history, not a setting to change.
        rule: 'has(self.bootstrap) == has(oldSelf.bootstrap) && (!has(self.bootstrap) || self.bootstrap == oldSelf.bootstrap)',
        message: 'bootstrap cannot change on an existing resource: it says what the resource was created from',
        fieldPath: '.bootstrap',
      },
    ],
  });

export type RedisReplicationSpec = z.output<typeof specSchema>;
export type RedisReplicationSpecInput = z.input<typeof specSchema>;

const ROLES = ['primary', 'replica'] as const;
const LINKS = ['up', 'down', 'syncing'] as const;
export const PHASES = ['Pending', 'Provisioning', 'Ready', 'Degraded', 'FailingOver', 'Failed'] as const;

const nodeStatusSchema = z.object({
  name: z.string(),
  role: z.enum(ROLES),
  tier: z.number().int(),
  parent: z.string().optional(),
  podIP: z.string().optional(),
  /** The Kubernetes node of the pod, and its zone (topology.kubernetes.io/zone). */
  node: z.string().optional(),
  zone: z.string().optional(),
  /** The server the pod runs (redis or valkey) and its version, from INFO server. */
  server: z.string().optional(),
  version: z.string().optional(),
  link: z.enum(LINKS).optional(),
  offset: z.number().int().optional(),
  lagBytes: z.number().int().optional(),
  lagSeconds: z.number().int().optional(),
  read: z.boolean(),
});
export type NodeStatus = z.infer<typeof nodeStatusSchema>;

const conditionSchema = z.object({
  type: z.string(),
  status: z.enum(['True', 'False', 'Unknown']),
  reason: z.string(),
  message: z.string(),
  observedGeneration: z.number().int().optional(),
  lastTransitionTime: z.string(),
});
export type Condition = z.infer<typeof conditionSchema>;

const failoverRecordSchema = z.object({
  time: z.string(),
  from: z.string(),
  to: z.string(),
  reason: z.string(),
});

const replicationBacklogStatusSchema = z.object({
  /** repl-backlog-size in bytes: with auto sizing, the size the operator keeps on every pod; else the primary's. */
  size: z.number().int(),
  /** The longest disconnect (seconds) the primary's backlog covers at the current write rate; absent
   * while the rate is not known yet or nothing is written. */
  coverageSeconds: z.number().int().optional(),
  /** The primary's replication stream, in bytes per second over the last minute. */
  writeBytesPerSecond: z.number().int().optional(),
});
export type ReplicationBacklogStatus = z.infer<typeof replicationBacklogStatusSchema>;

const RESTORE_PHASES = ['Pending', 'Running', 'Completed', 'Failed'] as const;

/** A resource made from a backup (spec.bootstrap.recovery): its first pod gets the backup before any
 * other pod is made or any client is let in. */
const restoreStatusSchema = z.object({
  backup: z.string().optional(),
  /** A point-in-time recovery: the resource whose files were restored, the base backup used (its
   * folder's timestamp), the time asked for (none: the latest archived), and the cut: the archive's
   * mark the replay stopped at (its time and replication offset) and the archived bytes replayed. */
  resource: z.string().optional(),
  base: z.string().optional(),
  targetTime: z.string().optional(),
  cutTime: z.string().optional(),
  cutOffset: z.number().int().optional(),
  replayedBytes: z.number().int().optional(),
  phase: z.enum(RESTORE_PHASES).optional(),
  reason: z.string().optional(),
  message: z.string().optional(),
  /** The pod the backup was loaded into: the first primary. */
  pod: z.string().optional(),
  startedAt: z.string().optional(),
  completedAt: z.string().optional(),
  /** DBSIZE of the restored pod once it held the backup. */
  keys: z.number().int().optional(),
});
export type RestoreStatus = z.infer<typeof restoreStatusSchema>;
/** Continuous archiving (spec.backup.archive): where the archive of the replication stream is. */
const archiveStatusSchema = z.object({
  /** The RedisBackup the archive continues from (retention keeps it). */
  base: z.string().optional(),
  /** The replication ID and offset of the end of the last segment in the object store, and when the
   * archiver had received its last whole command (its last mark): a point-in-time restore reaches it. */
  replid: z.string().optional(),
  lastArchivedOffset: z.number().int().optional(),
  lastArchivedTime: z.string().optional(),
  /** The primary's offset minus the last archived one; now minus lastArchivedTime (a segment is
   * stored when it closes: up to its age, 60 s, is normal). */
  lagBytes: z.number().int().optional(),
  lagSeconds: z.number().int().optional(),
  /** The pod the archiver follows (a linked replica; the primary only without one). */
  sourcePod: z.string().optional(),
  /** Why the archiver is not archiving, or why its last link broke (it is retried). */
  lastError: z.string().optional(),
});
export type ArchiveStatus = z.infer<typeof archiveStatusSchema>;

const scheduleStatusSchema = z.object({
  /** The spec.backup.schedule the times below follow. */
  schedule: z.string().optional(),
  /** The time of the last backup the schedule created (its slot), and the next time it will. */
  lastScheduleTime: z.string().optional(),
  nextScheduleTime: z.string().optional(),
});

export const statusSchema = z.object({
  observedGeneration: z.number().int().optional(),
  phase: z.enum(PHASES).optional(),
  primary: z.string().optional(),
  /** Written before a promotion, cleared after: an operator that restarts mid-failover finishes it. */
  targetPrimary: z.string().optional(),
  /** What kind of change targetPrimary is: Switchover, Promotion, or the reason of a failover. */
  targetReason: z.string().optional(),
  /** The revision of the pod template (a hash), and how many pods run it. */
  revision: z.string().optional(),
  updatedPods: z.number().int().optional(),
  /** master_replid (and master_replid2) of the primary: replicas that followed its stream carry one. */
  primaryReplIds: z.array(z.string()).optional(),
  /** The next pod index: pod names are never reused. */
  nextPodIndex: z.number().int().optional(),
  replicas: z.number().int().optional(),
  readyReplicas: z.number().int().optional(),
  desiredReplicas: z.number().int().optional(),
  /** readyReplicas/desiredReplicas as text: a printer column shows one JSONPath only. */
  ready: z.string().optional(),
  selector: z.string().optional(),
  primaryOffset: z.number().int().optional(),
  maxLagSeconds: z.number().int().optional(),
  nodes: z.array(nodeStatusSchema).optional(),
  lastFailover: failoverRecordSchema.optional(),
  replicationBacklog: replicationBacklogStatusSchema.optional(),
  restore: restoreStatusSchema.optional(),
  backup: scheduleStatusSchema.optional(),
  archive: archiveStatusSchema.optional(),
  conditions: z.array(conditionSchema).optional(),
});
export type RedisReplicationStatus = z.infer<typeof statusSchema>;

export interface RedisReplication {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace: string;
    uid: string;
    generation?: number;
    resourceVersion?: string;
    annotations?: Record<string, string>;
    labels?: Record<string, string>;
    deletionTimestamp?: string;
    creationTimestamp?: string;
  };
  /** Unvalidated: parse with parseSpec before use. */
  spec: unknown;
  status?: RedisReplicationStatus;
}

export type SpecResult = { ok: true; spec: RedisReplicationSpec } | { ok: false; message: string };

type Recovery = NonNullable<NonNullable<RedisReplicationSpec['bootstrap']>['recovery']>;

/** A recovery names one source: a RedisBackup, or a store and the resource whose files it holds. */
function recoveryRefusal(recovery: Recovery, ownStore: ObjectStore | undefined, name: string | undefined): string | undefined {
  const fromStore = recovery.objectStore !== undefined || recovery.resource !== undefined || recovery.targetTime !== undefined;
  if (recovery.backup !== undefined && fromStore) {
    return 'spec.bootstrap.recovery: either backup (a RedisBackup) or objectStore and resource (with targetTime: a point in time), not both';
  }
  if (recovery.backup !== undefined) return undefined;
  if (!fromStore) return 'spec.bootstrap.recovery.backup: name the RedisBackup to restore, or give objectStore and resource to restore from a store (to a point in time with targetTime)';
  if (!recovery.objectStore) return `spec.bootstrap.recovery.objectStore: give the object store that holds the base backups and archive of ${recovery.resource ?? 'the resource'}`;
  if (!recovery.resource) return 'spec.bootstrap.recovery.resource: name the resource whose base backups and archive the store holds';
  // Its own backups would go into the folders it restores from, mixed with the old resource's.
  const same = ownStore && ownStore.endpoint === recovery.objectStore.endpoint && ownStore.bucket === recovery.objectStore.bucket && sameFolder(ownStore.path, recovery.objectStore.path);
  if (same && name === recovery.resource) {
    return `spec.backup.objectStore: resource ${name} would write its backups into the folder it is restored from (${recovery.objectStore.bucket}/${recovery.objectStore.path}); give it another path or another name`;
  }
  return undefined;
}

const sameFolder = (a: string, b: string) => a.split('/').filter(Boolean).join('/') === b.split('/').filter(Boolean).join('/');

/** Validates a spec (and the resource's name, when given) that already passed the API server; the
 * message names the offending field. */
export function parseSpec(raw: unknown, name?: string): SpecResult {
  if (name !== undefined) {
    const named = resourceNameSchema.safeParse(name);
    if (!named.success) return { ok: false, message: `metadata.name: ${named.error.issues[0]!.message}` };
  }
  const result = specSchema.safeParse(raw ?? {});
  if (result.success) {
    const pods = totalPods(result.data.replicas, result.data.cascade);
    if (pods > MAX_PODS) return { ok: false, message: `spec.replicas: the spec asks for ${pods} pods, more than ${MAX_PODS}` };
    const quorum = result.data.writeQuorum;
    if (quorum && quorum.minReplicas > result.data.replicas) {
      return { ok: false, message: `spec.writeQuorum.minReplicas: ${quorum.minReplicas} is more than the ${result.data.replicas} replicas; the primary would refuse every write` };
    }
    const recovery = result.data.bootstrap?.recovery;
    const refused = recovery && recoveryRefusal(recovery, result.data.backup?.objectStore, name);
    if (refused) return { ok: false, message: refused };
    // Restored through a replication link of the operator's own, in plain TCP: the data would cross
    // the network unencrypted, which a resource that asks for TLS must never see.
    if (result.data.bootstrap?.recovery && result.data.tls?.enabled) {
      return { ok: false, message: 'spec.bootstrap.recovery: restoring into a resource with tls.enabled is not supported yet; restore without TLS, then enable it (docs/backups.md)' };
    }
    return { ok: true, spec: result.data };
  }
  const issue = result.error.issues[0]!;
  const path = ['spec', ...issue.path.map(String)].join('.');
  return { ok: false, message: `${path}: ${issue.message}` };
}
