// Volumes and environment of a pod's containers, resolved against the API.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type * as k8s from '@kubernetes/client-node';
import { KUBERNETES_SERVICE_IP } from '../common.js';

/** A reason the pod cannot start yet (reported as the container's waiting reason). */
export class ConfigError extends Error {
  constructor(public reason: string, message: string) {
    super(message);
  }
}

function notFound(err: unknown): boolean {
  return (err as { code?: number }).code === 404;
}

export interface Api {
  core: k8s.CoreV1Api;
}

/** The object read; when it does not exist, undefined if optional, else a ConfigError naming `what`. */
async function readOptional<T>(what: string, optional: boolean | undefined, read: () => Promise<T>): Promise<T | undefined> {
  try {
    return await read();
  } catch (err) {
    if (!notFound(err)) throw err;
    if (optional) return undefined;
    throw new ConfigError('CreateContainerConfigError', `${what} not found`);
  }
}

async function getConfigMap(api: Api, ns: string, name: string, optional: boolean | undefined): Promise<Record<string, string> | undefined> {
  const cm = await readOptional(`configmap "${name}"`, optional, () => api.core.readNamespacedConfigMap({ name, namespace: ns }));
  if (!cm) return undefined;
  const out: Record<string, string> = { ...(cm.data ?? {}) };
  for (const [k, v] of Object.entries(cm.binaryData ?? {})) out[k] = Buffer.from(v, 'base64').toString('latin1');
  return out;
}

async function getSecret(api: Api, ns: string, name: string, optional: boolean | undefined): Promise<Record<string, Buffer> | undefined> {
  const s = await readOptional(`secret "${name}"`, optional, () => api.core.readNamespacedSecret({ name, namespace: ns }));
  if (!s) return undefined;
  const out: Record<string, Buffer> = {};
  for (const [k, v] of Object.entries(s.data ?? {})) out[k] = Buffer.from(v, 'base64');
  for (const [k, v] of Object.entries(s.stringData ?? {})) out[k] = Buffer.from(v);
  return out;
}

function fieldValue(pod: k8s.V1Pod, path: string, podIP: string, hostIP: string): string {
  const m = /^metadata\.(labels|annotations)\['(.+)'\]$/.exec(path);
  if (m) return (m[1] === 'labels' ? pod.metadata?.labels : pod.metadata?.annotations)?.[m[2] ?? ''] ?? '';
  switch (path) {
    case 'metadata.name': return pod.metadata?.name ?? '';
    case 'metadata.namespace': return pod.metadata?.namespace ?? '';
    case 'metadata.uid': return pod.metadata?.uid ?? '';
    case 'metadata.labels': return Object.entries(pod.metadata?.labels ?? {}).map(([k, v]) => `${k}="${v}"`).join('\n');
    case 'metadata.annotations': return Object.entries(pod.metadata?.annotations ?? {}).map(([k, v]) => `${k}="${v}"`).join('\n');
    case 'spec.nodeName': return pod.spec?.nodeName ?? '';
    case 'spec.serviceAccountName': return pod.spec?.serviceAccountName ?? 'default';
    case 'status.podIP': case 'status.podIPs': return podIP;
    case 'status.hostIP': case 'status.hostIPs': return hostIP;
    default: throw new ConfigError('CreateContainerConfigError', `unsupported fieldRef ${path}`);
  }
}

function writeFile(dir: string, rel: string, data: string | Buffer, mode?: number): void {
  const p = join(dir, rel);
  mkdirSync(dirname(p), { recursive: true });
  writeFileSync(p, data, { mode: mode ?? 0o644 });
}

function selectItems<T>(all: Record<string, T>, items: k8s.V1KeyToPath[] | undefined, what: string, optional?: boolean): [string, T][] {
  if (!items || items.length === 0) return Object.entries(all);
  const out: [string, T][] = [];
  for (const it of items) {
    if (!(it.key in all)) {
      if (optional) continue;
      throw new ConfigError('CreateContainerConfigError', `key "${it.key}" not found in ${what}`);
    }
    out.push([it.path, all[it.key] as T]);
  }
  return out;
}

export interface Mount { source: string; target: string; readOnly: boolean }

/** Materializes every volume of the pod under dir/volumes/<name>; returns the host path of each. */
export async function prepareVolumes(api: Api, pod: k8s.V1Pod, dir: string, podIP: string, hostIP: string): Promise<Record<string, string>> {
  const ns = pod.metadata!.namespace!;
  const out: Record<string, string> = {};
  for (const v of pod.spec?.volumes ?? []) {
    const vdir = join(dir, 'volumes', v.name);
    if (v.emptyDir) {
      mkdirSync(vdir, { recursive: true });
      out[v.name] = vdir;
    } else if (v.hostPath) {
      mkdirSync(v.hostPath.path, { recursive: true });
      out[v.name] = v.hostPath.path;
    } else if (v.configMap || v.secret || v.projected || v.downwardAPI) {
      // Written in place (not swapped) so that a running container's bind mount sees refreshed tokens.
      const fresh = vdir;
      mkdirSync(fresh, { recursive: true });
      const sources: k8s.V1VolumeProjection[] = v.projected?.sources
        ?? [v.configMap ? { configMap: v.configMap } : v.secret ? { secret: { name: v.secret.secretName, items: v.secret.items, optional: v.secret.optional } } : { downwardAPI: v.downwardAPI }];
      for (const s of sources) {
        if (s.configMap) {
          const data = await getConfigMap(api, ns, s.configMap.name!, s.configMap.optional);
          if (data) for (const [p, d] of selectItems(data, s.configMap.items, `configmap "${s.configMap.name}"`, s.configMap.optional)) writeFile(fresh, p, d);
        } else if (s.secret) {
          const data = await getSecret(api, ns, s.secret.name!, s.secret.optional);
          const mode = v.secret?.defaultMode ?? v.projected?.defaultMode ?? 0o644;
          if (data) for (const [p, d] of selectItems(data, s.secret.items, `secret "${s.secret.name}"`, s.secret.optional)) writeFile(fresh, p, d, mode);
        } else if (s.downwardAPI) {
          for (const it of s.downwardAPI.items ?? []) {
            if (it.fieldRef) writeFile(fresh, it.path, fieldValue(pod, it.fieldRef.fieldPath, podIP, hostIP));
          }
        } else if (s.serviceAccountToken) {
          const sa = pod.spec?.serviceAccountName || 'default';
          try {
            const tr = await api.core.createNamespacedServiceAccountToken({
              name: sa, namespace: ns,
              body: {
                spec: {
                  audiences: s.serviceAccountToken.audience ? [s.serviceAccountToken.audience] : [],
                  expirationSeconds: s.serviceAccountToken.expirationSeconds ?? 3607,
                  boundObjectRef: { kind: 'Pod', apiVersion: 'v1', name: pod.metadata!.name!, uid: pod.metadata!.uid! },
                },
              },
            });
            // The projected volume's defaultMode (0644 unless set), as the kubelet writes it.
            writeFile(fresh, s.serviceAccountToken.path, tr.status?.token ?? '', v.projected?.defaultMode ?? 0o644);
          } catch (err) {
            if (notFound(err)) throw new ConfigError('CreateContainerConfigError', `serviceaccount "${sa}" not found`);
            throw err;
          }
        }
      }
      out[v.name] = vdir;
    } else if (v.persistentVolumeClaim) {
      const claim = v.persistentVolumeClaim.claimName;
      let pvc: k8s.V1PersistentVolumeClaim;
      try {
        pvc = await api.core.readNamespacedPersistentVolumeClaim({ name: claim, namespace: ns });
      } catch (err) {
        if (notFound(err)) throw new ConfigError('CreateContainerConfigError', `persistentvolumeclaim "${claim}" not found`);
        throw err;
      }
      if (pvc.status?.phase !== 'Bound' || !pvc.spec?.volumeName) throw new ConfigError('ContainerCreating', `persistentvolumeclaim "${claim}" is not bound yet`);
      const pv = await api.core.readPersistentVolume({ name: pvc.spec.volumeName });
      const path = pv.spec?.hostPath?.path ?? pv.spec?.local?.path;
      if (!path) throw new ConfigError('CreateContainerConfigError', `persistentvolume "${pv.metadata?.name}" has no hostPath`);
      mkdirSync(path, { recursive: true });
      out[v.name] = path;
    } else {
      throw new ConfigError('CreateContainerConfigError', `volume "${v.name}": unsupported volume type`);
    }
  }
  return out;
}

/** fsGroup, as the kubelet applies it: the pod's writable and secret volumes belong to the group (and
 * to runAsUser, so that a non-root redis-server can write its data). Host paths are left alone. */
export function ownVolumes(pod: k8s.V1Pod, volumes: Record<string, string>): void {
  const sc = pod.spec?.securityContext;
  if (sc?.fsGroup === undefined) return;
  const owner = `${sc.runAsUser ?? 0}:${sc.fsGroup}`;
  for (const v of pod.spec?.volumes ?? []) {
    const path = volumes[v.name];
    if (path && !v.hostPath) execFileSync('chown', ['-R', owner, path]);
  }
}

export function mountsOf(c: k8s.V1Container, volumes: Record<string, string>): Mount[] {
  const out: Mount[] = [];
  for (const m of c.volumeMounts ?? []) {
    const src = volumes[m.name];
    if (!src) throw new ConfigError('CreateContainerConfigError', `volume "${m.name}" not found in pod spec`);
    out.push({ source: m.subPath ? join(src, m.subPath) : src, target: m.mountPath, readOnly: !!m.readOnly });
  }
  return out;
}

/** $(VAR) expansion as Kubernetes does it; $$ escapes. */
export function expand(s: string, env: Record<string, string>): string {
  return s.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (m: string, name: string | undefined) => {
    if (m === '$$') return '$';
    return name !== undefined && name in env ? (env[name] ?? m) : m;
  });
}

/** The environment of a container: envFrom first, then env (with $(VAR) expansion), plus the Kubernetes service variables. */
export async function containerEnv(api: Api, pod: k8s.V1Pod, c: k8s.V1Container, podIP: string, hostIP: string): Promise<Record<string, string>> {
  const ns = pod.metadata!.namespace!;
  const env: Record<string, string> = {
    PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    HOME: '/root',
    HOSTNAME: pod.metadata!.name!,
    KUBERNETES_SERVICE_HOST: KUBERNETES_SERVICE_IP,
    KUBERNETES_SERVICE_PORT: '443',
    KUBERNETES_SERVICE_PORT_HTTPS: '443',
    KUBERNETES_PORT: `tcp://${KUBERNETES_SERVICE_IP}:443`,
    KUBERNETES_PORT_443_TCP: `tcp://${KUBERNETES_SERVICE_IP}:443`,
    KUBERNETES_PORT_443_TCP_PROTO: 'tcp',
    KUBERNETES_PORT_443_TCP_PORT: '443',
    KUBERNETES_PORT_443_TCP_ADDR: KUBERNETES_SERVICE_IP,
  };
  for (const ef of c.envFrom ?? []) {
    const prefix = ef.prefix ?? '';
    if (ef.configMapRef) {
      const d = await getConfigMap(api, ns, ef.configMapRef.name!, ef.configMapRef.optional);
      for (const [k, v] of Object.entries(d ?? {})) env[prefix + k] = v;
    } else if (ef.secretRef) {
      const d = await getSecret(api, ns, ef.secretRef.name!, ef.secretRef.optional);
      for (const [k, v] of Object.entries(d ?? {})) env[prefix + k] = v.toString('utf8');
    }
  }
  for (const e of c.env ?? []) {
    if (e.valueFrom) {
      const vf = e.valueFrom;
      if (vf.secretKeyRef) {
        const d = await getSecret(api, ns, vf.secretKeyRef.name!, vf.secretKeyRef.optional);
        const v = d?.[vf.secretKeyRef.key];
        if (v === undefined) {
          if (vf.secretKeyRef.optional) continue;
          throw new ConfigError('CreateContainerConfigError', `couldn't find key ${vf.secretKeyRef.key} in Secret ${ns}/${vf.secretKeyRef.name}`);
        }
        env[e.name] = v.toString('utf8');
      } else if (vf.configMapKeyRef) {
        const d = await getConfigMap(api, ns, vf.configMapKeyRef.name!, vf.configMapKeyRef.optional);
        const v = d?.[vf.configMapKeyRef.key];
        if (v === undefined) {
          if (vf.configMapKeyRef.optional) continue;
          throw new ConfigError('CreateContainerConfigError', `couldn't find key ${vf.configMapKeyRef.key} in ConfigMap ${ns}/${vf.configMapKeyRef.name}`);
        }
        env[e.name] = v;
      } else if (vf.fieldRef) {
        env[e.name] = fieldValue(pod, vf.fieldRef.fieldPath, podIP, hostIP);
      } else if (vf.resourceFieldRef) {
        const r = vf.resourceFieldRef.resource;
        const [kind, res] = r.split('.');
        const q = (kind === 'limits' ? c.resources?.limits : c.resources?.requests)?.[res ?? ''];
        env[e.name] = q !== undefined ? String(q) : res === 'cpu' ? '1' : String(2 ** 30);
      }
    } else {
      env[e.name] = expand(e.value ?? '', env);
    }
  }
  return env;
}
