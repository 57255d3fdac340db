// Bad specs, as a new user writes them: each is refused by the API server with a message that names
// what is wrong, or, when only the cluster can tell (a Secret that does not exist, a claim no class
// can bind, an image the node cannot run), accepted and then reported in status and an Event while
// nothing else is touched. The table is the list the security review asked for.
import { describe, expect, it } from 'vitest';
import { GROUP, PLURAL, VERSION } from '../../src/api/schema.js';
import { kubectlRaw, waitFor } from './support/cluster.js';
import { api, createRR, getRR, operatorNamespace } from './support/operator.js';
import { localCluster } from './support/where.js';

const fixture = operatorNamespace('badspec');
const OBJECT_STORE = { endpoint: 'http://198.18.0.1:8333', bucket: 'rro-backups', credentialsSecret: 's3' };

/** [what, spec, what the API server's refusal says] */
const REFUSED: [string, Record<string, unknown>, RegExp][] = [
  ['negative replicas', { replicas: -1 }, /spec\.replicas/],
  ['too many replicas', { replicas: 101 }, /spec\.replicas/],
  ['fractional replicas', { replicas: 1.5 }, /spec\.replicas.*integer/],
  ['replicas as a string', { replicas: '2' }, /spec\.replicas.*integer/],
  ['four cascade tiers', { cascade: [1, 1, 1, 1].map((n) => ({ replicasPerParent: n })) }, /spec\.cascade/],
  ['no replica per parent', { cascade: [{ replicasPerParent: 0 }] }, /spec\.cascade\[0\]\.replicasPerParent/],
  ['too many per parent', { cascade: [{ replicasPerParent: 11 }] }, /spec\.cascade\[0\]\.replicasPerParent/],
  ['more than 250 pods', { replicas: 100, cascade: [{ replicasPerParent: 10 }] }, /more than 250 pods/],
  ['an empty image', { image: '' }, /spec\.image/],
  ['an image name of 600 characters', { image: `redis:${'x'.repeat(600)}` }, /spec\.image/],
  ['config replicaof', { config: { replicaof: '10.0.0.1 6379' } }, /operator owns/],
  ['config REPLICAOF in capitals', { config: { REPLICAOF: '10.0.0.1 6379' } }, /operator owns/],
  ['config "port " with a trailing space', { config: { 'port ': '1' } }, /letters, digits and dashes|operator owns/],
  ['config "replicaof x" with a space inside', { config: { 'replicaof x': '1' } }, /letters, digits and dashes/],
  ['config value with a line break', { config: { maxmemory: '1mb\nreplicaof 10.0.0.1 6379' } }, /line break/],
  ['config requirepass', { config: { requirepass: 'x' } }, /operator owns/],
  ['config masteruser', { config: { masteruser: 'x' } }, /operator owns/],
  ['config tls-port', { config: { 'tls-port': '6380' } }, /operator owns/],
  ['config with an empty directive name', { config: { '': 'x' } }, /spec\.config/],
  ['config with 65 directives', { config: Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`d${i}`, '1'])) }, /spec\.config.*64/],
  ['a negative lag bound', { readService: { maxLagSeconds: -1 } }, /spec\.readService\.maxLagSeconds/],
  ['a lag bound over an hour', { readService: { maxLagSeconds: 3601 } }, /spec\.readService\.maxLagSeconds/],
  ['primaryDownSeconds 0', { failover: { primaryDownSeconds: 0 } }, /spec\.failover\.primaryDownSeconds/],
  ['primaryDownSeconds over 600', { failover: { primaryDownSeconds: 601 } }, /spec\.failover\.primaryDownSeconds/],
  ['acceptDataLossAfterSeconds 0', { failover: { acceptDataLossAfterSeconds: 0 } }, /spec\.failover\.acceptDataLossAfterSeconds/],
  ['writeQuorum above replicas', { replicas: 2, writeQuorum: { minReplicas: 3 } }, /minReplicas may not exceed replicas/],
  ['writeQuorum of 0', { writeQuorum: { minReplicas: 0 } }, /spec\.writeQuorum\.minReplicas/],
  ['writeQuorum without minReplicas', { writeQuorum: { maxLagSeconds: 5 } }, /spec\.writeQuorum\.minReplicas.*Required/],
  ['updateStrategy Recreate', { updateStrategy: { type: 'Recreate' } }, /spec\.updateStrategy\.type.*supported values/],
  ['updateStrategy.primary Auto', { updateStrategy: { primary: 'Auto' } }, /spec\.updateStrategy\.primary.*supported values/],
  ['a progress deadline of 5 s', { updateStrategy: { progressDeadlineSeconds: 5 } }, /spec\.updateStrategy\.progressDeadlineSeconds/],
  ['persistence.enabled as a string', { persistence: { enabled: 'yes' } }, /spec\.persistence\.enabled.*boolean/],
  ['auth with an empty secretName', { auth: { secretName: '' } }, /spec\.auth\.secretName/],
  ['an app user named default', { auth: { secretName: 's', users: [{ name: 'default', secretName: 's', rules: '+get' }] } }, /taken/],
  ['an app user named rro-admin', { auth: { secretName: 's', users: [{ name: 'rro-admin', secretName: 's', rules: '+get' }] } }, /taken/],
  ['rules with a line break', { auth: { secretName: 's', users: [{ name: 'app', secretName: 's', rules: '+get\nuser evil on nopass +@all' }] } }, /line break/],
  ['rules that set a password', { auth: { secretName: 's', users: [{ name: 'app', secretName: 's', rules: '>secret +@all' }] } }, /may not set passwords/],
  ['rules with a quote', { auth: { secretName: 's', users: [{ name: 'app', secretName: 's', rules: '+get "x' }] } }, /quote/],
  ['two users of one name', { auth: { secretName: 's', users: [1, 2].map(() => ({ name: 'app', secretName: 's', rules: '+get' })) } }, /Duplicate value/],
  ['tls.enabled as a string', { tls: { enabled: 'true' } }, /spec\.tls\.enabled.*boolean/],
  ['a nodeSelector value of 64 characters', { placement: { nodeSelector: { disk: 'x'.repeat(64) } } }, /spec\.placement\.nodeSelector/],
  ['33 tolerations', { placement: { tolerations: Array.from({ length: 33 }, (_, i) => ({ key: `k${i}`, operator: 'Exists' })) } }, /spec\.placement\.tolerations/],
  // Issue 24: quantities, object names, dangerous directives and app-user rules (src/api/dangerous.ts).
  ['persistence.size "10 GB"', { persistence: { size: '10 GB' } }, /spec\.persistence\.size.*quantity/],
  ['persistence.size ""', { persistence: { size: '' } }, /spec\.persistence\.size.*quantity/],
  ['persistence.size "lots"', { persistence: { size: 'lots' } }, /spec\.persistence\.size.*quantity/],
  ['persistence.size "-1Gi"', { persistence: { size: '-1Gi' } }, /spec\.persistence\.size.*quantity/],
  ['limits.cpu "lots"', { resources: { limits: { cpu: 'lots' } } }, /spec\.resources\.limits\[cpu\].*quantity/],
  ['limits.cpu -1', { resources: { limits: { cpu: -1 } } }, /spec\.resources\.limits\[cpu\].*quantity/],
  ['requests.memory "1 Gi"', { resources: { requests: { memory: '1 Gi' } } }, /spec\.resources\.requests\[memory\].*quantity/],
  // int-or-string, as every CRD quantity: a fraction is written as a string ("0.5" or "500m").
  ['limits.cpu as the number 0.5', { resources: { limits: { cpu: 0.5 } } }, /spec\.resources\.limits\.cpu.*integer,string/],
  ['storageClassName Fast_SSD', { persistence: { enabled: true, storageClassName: 'Fast_SSD' } }, /spec\.persistence\.storageClassName.*storage class/],
  ['auth.secretName Bad_Name', { auth: { secretName: 'Bad_Name' } }, /spec\.auth\.secretName.*Secret/],
  ['tls.secretName with a space', { tls: { enabled: true, secretName: 'bad name' } }, /spec\.tls\.secretName.*Secret/],
  ['an app user Secret in capitals', { auth: { secretName: 's', users: [{ name: 'app', secretName: 'App-Secret', rules: '+get' }] } }, /spec\.auth\.users\[0\]\.secretName.*Secret/],
  ['priorityClassName High_Priority', { placement: { priorityClassName: 'High_Priority' } }, /spec\.placement\.priorityClassName.*priority class/],
  ...['enable-debug-command', 'enable-protected-configs', 'enable-module-command', 'loadmodule', 'include', 'rename-command', 'unixsocket', 'unixsocketperm', 'logfile'].map(
    (d): [string, Record<string, unknown>, RegExp] => [`config ${d}`, { config: { [d]: 'yes' } }, /spec\.config.*allowDangerousConfig/],
  ),
  ['config tls-protocols TLSv1', { config: { 'tls-protocols': 'TLSv1 TLSv1.2' } }, /spec\.config.*allowDangerousConfig/],
  ['config tls-protocols TLSv1.1', { config: { 'tls-protocols': 'TLSv1.1' } }, /spec\.config.*allowDangerousConfig/],
  ['config user', { config: { user: 'evil on nopass +@all' } }, /operator owns/],
  ['config aclfile', { config: { aclfile: '/data/users.acl' } }, /operator owns/],
  ['app user rules ~app:* +@read +@write (FLUSHALL, KEYS)', { auth: { secretName: 's', users: [{ name: 'app', secretName: 's', rules: '~app:* +@read +@write' }] } }, /spec\.auth\.users\[0\]\.rules.*@dangerous/],
  ['app user rules +@all', { auth: { secretName: 's', users: [{ name: 'app', secretName: 's', rules: '+@all ~*' }] } }, /spec\.auth\.users\[0\]\.rules.*@dangerous/],
  ['app user rules +flushall after -@dangerous', { auth: { secretName: 's', users: [{ name: 'app', secretName: 's', rules: '+@all -@dangerous +flushall' }] } }, /spec\.auth\.users\[0\]\.rules.*@dangerous/],
  // Backups (docs/backups.md#schedules-and-retention): the schedule's fields and ranges, a count or an age.
  ['a backup schedule of four fields', { backup: { objectStore: OBJECT_STORE, schedule: '0 3 * *' } }, /spec\.backup\.schedule.*cron expression of 5 fields/],
  ['a backup schedule at minute 61', { backup: { objectStore: OBJECT_STORE, schedule: '61 3 * * *' } }, /spec\.backup\.schedule.*cron expression of 5 fields/],
  ['a backup schedule with seconds', { backup: { objectStore: OBJECT_STORE, schedule: '0 0 3 * * *' } }, /spec\.backup\.schedule.*cron expression of 5 fields/],
  ['a backup schedule @daily', { backup: { objectStore: OBJECT_STORE, schedule: '@daily' } }, /spec\.backup\.schedule.*cron expression of 5 fields/],
  ['a backup schedule with H', { backup: { objectStore: OBJECT_STORE, schedule: 'H 3 * * *' } }, /spec\.backup\.schedule.*cron expression of 5 fields/],
  ['a backup retention of 7w', { backup: { objectStore: OBJECT_STORE, retention: '7w' } }, /spec\.backup\.retention.*how many Completed backups to keep/],
  ['a backup retention of 0', { backup: { objectStore: OBJECT_STORE, retention: 0 } }, /spec\.backup\.retention.*how many Completed backups to keep/],
  ['a backup retention of "1.5d"', { backup: { objectStore: OBJECT_STORE, retention: '1.5d' } }, /spec\.backup\.retention.*how many Completed backups to keep/],
];

/** [name, what the refusal says]: names the API server takes for any object (DNS-1123 subdomains) that
 * the CRD refuses: the resource's Services are named after it. */
const BAD_NAMES: [string, RegExp][] = [
  ['1cache', /metadata\.name must be a DNS-1035 label/],
  ['my.cache', /metadata\.name must be a DNS-1035 label/],
  ['a'.repeat(56), /metadata\.name may be at most 55 characters/],
];

/** Valid specs next to the refused ones, each with the name it is created under (a dry run). */
const ACCEPTED: [string, string, Record<string, unknown>][] = [
  ['a name of 55 characters', 'a'.repeat(55), { replicas: 0 }],
  ['quantities as strings and integers', 'quantities', { persistence: { size: '1.5Gi', storageClassName: 'gp3.encrypted' }, resources: { limits: { cpu: '0.5', memory: '256Mi' }, requests: { cpu: 1 } } }],
  ['tls-protocols TLSv1.2 TLSv1.3', 'tls12', { config: { 'tls-protocols': 'TLSv1.2 TLSv1.3' } }],
  ['loadmodule with allowDangerousConfig', 'modules', { allowDangerousConfig: true, config: { loadmodule: '/opt/m.so', 'tls-protocols': 'TLSv1.1' } }],
  ['rules ending with -@dangerous', 'rules', { auth: { secretName: 's', users: [{ name: 'app', secretName: 's', rules: '~app:* +@read +@write -@dangerous' }] } }],
  ['a backup schedule and a count', 'sched', { backup: { objectStore: OBJECT_STORE, schedule: '*/15 8-18 * jan-jun MON-FRI', retention: 5 } }],
  ['a backup schedule and an age', 'keep7d', { backup: { objectStore: OBJECT_STORE, schedule: ' 0 3 1,15 * * ', retention: '7d' } }],
  ['+@all with allowDangerousCommands', 'admin', { auth: { secretName: 's', users: [{ name: 'admin', secretName: 's', rules: '+@all ~*', allowDangerousCommands: true }] } }],
];

describe('bad specs the API server refuses', () => {
  it.each(REFUSED)('%s', async (_what, spec, message) => {
    const refusal = await createRR(fixture.ns, 'bad', spec).then(
      () => undefined,
      (e: unknown) => String((e as { body?: unknown }).body ?? e),
    );
    expect(refusal, `accepted: ${JSON.stringify(spec)}`).toBeDefined();
    expect(refusal).toMatch(message);
  });

  it.each(BAD_NAMES)('the resource name %s', async (name, message) => {
    const refusal = await createRR(fixture.ns, name, { replicas: 0 }).then(
      () => undefined,
      (e: unknown) => String((e as { body?: unknown }).body ?? e),
    );
    expect(refusal, `accepted: ${name}`).toBeDefined();
    expect(refusal).toMatch(message);
  });

  it.each(ACCEPTED)('accepts %s (dry run)', async (_what, name, spec) => {
    await api().custom.createNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      plural: PLURAL,
      namespace: fixture.ns,
      body: { apiVersion: `${GROUP}/${VERSION}`, kind: 'RedisReplication', metadata: { name }, spec },
      dryRun: 'All',
    });
  });

  it('a misspelt field is refused by kubectl (strict field validation), not silently dropped', async () => {
    const manifest = JSON.stringify({ apiVersion: 'redis.replication.dev/v1alpha1', kind: 'RedisReplication', metadata: { name: 'typo', namespace: fixture.ns }, spec: { replica: 2 } });
    const r = await kubectlRaw(['apply', '-f', '-'], { input: manifest });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/unknown field "spec.replica"/);
  });

  it('turning TLS on for a running resource is refused', async () => {
    await createRR(fixture.ns, 'plain', { replicas: 0 });
    const r = await kubectlRaw(['-n', fixture.ns, 'patch', 'rr/plain', '--type=merge', '-p', '{"spec":{"tls":{"enabled":true}}}']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/tls\.enabled cannot change/);
  });
});

/** The condition of `type` once it is False, and the Warning Events of the resource. */
async function reported(name: string, type: string) {
  const condition = await waitFor(async () => (await getRR(fixture.ns, name)).status?.conditions?.find((c) => c.type === type && c.status === 'False'), {
    timeoutMs: 60_000,
    intervalMs: 250,
    what: `${name}: ${type}=False`,
  });
  const events = (await api().core.listNamespacedEvent({ namespace: fixture.ns })).items.filter((e) => e.involvedObject.name === name && e.type === 'Warning');
  return { condition, events };
}

describe('bad specs only the cluster can tell: accepted, then reported', () => {
  it('a password Secret that does not exist: SecretsAvailable=False and an Event naming it', async () => {
    await createRR(fixture.ns, 'nosecret', { replicas: 1, auth: { secretName: 'does-not-exist' } });
    const { condition, events } = await reported('nosecret', 'SecretsAvailable');
    expect(condition.message).toMatch(/Secret does-not-exist does not exist/);
    expect(events.map((e) => e.message).join('\n')).toMatch(/does-not-exist/);
  });

  it('a password Secret without the allow label: SecretsAvailable=False (SecretNotAllowed) and an Event name the label; no pod is created', async () => {
    await api().core.createNamespacedSecret({ namespace: fixture.ns, body: { metadata: { name: 'not-for-you' }, stringData: { password: 'someone-elses' } } });
    await createRR(fixture.ns, 'notallowed', { replicas: 1, auth: { secretName: 'not-for-you' } });
    const { condition, events } = await reported('notallowed', 'SecretsAvailable');
    expect(condition).toMatchObject({ reason: 'SecretNotAllowed' });
    expect(condition.message).toMatch(/redis\.replication\.dev\/allow=notallowed/);
    expect(events.some((e) => e.reason === 'SecretNotAllowed' && e.message?.includes('redis.replication.dev/allow=notallowed'))).toBe(true);
    expect((await api().core.listNamespacedPod({ namespace: fixture.ns, labelSelector: 'app.kubernetes.io/instance=notallowed' })).items).toHaveLength(0);
  });

  it('a TLS Secret that does not exist: SecretsAvailable=False and an Event; no pod is created', async () => {
    await createRR(fixture.ns, 'notls', { replicas: 1, tls: { enabled: true, secretName: 'no-such-cert' } });
    const { condition, events } = await reported('notls', 'SecretsAvailable');
    expect(condition.message).toMatch(/no-such-cert/);
    expect(events.map((e) => e.message).join('\n')).toMatch(/no-such-cert/);
    expect((await api().core.listNamespacedPod({ namespace: fixture.ns, labelSelector: 'app.kubernetes.io/instance=notls' })).items).toHaveLength(0);
  });

  it('a storage class that does not exist: the claim never binds, PodsRunning=False says why', async () => {
    await createRR(fixture.ns, 'noclass', { replicas: 0, persistence: { enabled: true, storageClassName: 'no-such-class' } });
    const { condition, events } = await reported('noclass', 'PodsRunning');
    expect(condition).toMatchObject({ reason: 'Unschedulable' });
    expect(condition.message).toMatch(/noclass-0: Unschedulable: .*PersistentVolumeClaim/);
    expect(events.some((e) => e.reason === 'PodNotRunning')).toBe(true);
  });

  it.skipIf(!localCluster)('an image the node cannot run: PodsRunning=False quotes the waiting reason', async () => {
    // The local cluster's nodes have no redis:5.0 and reach no registry: the kubelet's pull fails, as
    // on a real cluster for an image that does not exist.
    await createRR(fixture.ns, 'oldimage', { replicas: 0, image: 'redis:5.0' });
    const { condition, events } = await reported('oldimage', 'PodsRunning');
    expect(condition.message).toMatch(/oldimage-0: (ErrImagePull|ImagePullBackOff): container redis: .*redis:5\.0/);
    expect(events.some((e) => e.reason === 'PodNotRunning')).toBe(true);
  });
});
