import {
  ApiException,
  CoordinationV1Api,
  CoreV1Api,
  NetworkingV1Api,
  PolicyV1Api,
  CustomObjectsApi,
  IsomorphicFetchHttpLibrary,
  KubeConfig,
  PatchStrategy,
  ServerConfiguration,
  createConfiguration,
  setHeaderOptions,
  wrapHttpLibrary,
  type ConfigurationOptions,
  type HttpLibrary,
  type ObservableMiddleware,
  type RequestContext,
  type ResponseContext,
} from '@kubernetes/client-node';

const DEFAULT_TIMEOUT_MS = 10_000;

/** KUBECONFIG, else ~/.kube/config, else the in-cluster service account (client-node's loadFromDefault order). */
export function loadKubeConfig(): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromDefault();
  return kc;
}

const requestCounts = new Map<string, { verb: string; resource: string; count: number }>();

/** The kind of object an API path names, with its subresource: `pods`, `redisreplications/status`,
 * `leases`. A bounded set, unlike the names and namespaces in the path. */
export function apiResource(path: string): string {
  const parts = path.split('?')[0]!.split('/').filter(Boolean);
  let i = parts[0] === 'api' ? 2 : 3;
  if (parts[i] === 'namespaces' && parts.length > i + 2) i += 2;
  const sub = parts[i + 2];
  return `${parts[i] ?? ''}${sub ? `/${sub}` : ''}`;
}

/** Counts an API request; `verb` is an HTTP method in lower case, or "watch"; `resource` as apiResource. */
export function countApiRequest(verb: string, resource: string): void {
  const key = `${verb} ${resource}`;
  const c = requestCounts.get(key) ?? { verb, resource, count: 0 };
  c.count++;
  requestCounts.set(key, c);
}

/** API requests made by this process so far, by verb and resource. */
export function apiRequestCounts(): { verb: string; resource: string; count: number }[] {
  return [...requestCounts.values()].map((c) => ({ ...c }));
}

export function resetApiRequestCounts(): void {
  requestCounts.clear();
}

/**
 * client-node 1.x sets no timeout on ordinary calls: give every request an AbortSignal deadline
 * (combined with one the caller set) and count it. Done at the HTTP library, not in middleware,
 * because per-call options may replace the middleware list.
 */
function timeoutHttpLibrary(timeoutMs: number, inner: HttpLibrary = new IsomorphicFetchHttpLibrary()): HttpLibrary {
  return wrapHttpLibrary({
    async send(request: RequestContext): Promise<ResponseContext> {
      const method = request.getHttpMethod().toString();
      countApiRequest(method.toLowerCase(), apiResource(new URL(request.getUrl()).pathname));
      const deadline = AbortSignal.timeout(timeoutMs);
      const own = request.getSignal();
      request.setSignal(own ? AbortSignal.any([own, deadline]) : deadline);
      try {
        return await inner.send(request).toPromise();
      } catch (e) {
        if (deadline.aborted) throw new Error(`${method} ${request.getUrl()} timed out after ${timeoutMs} ms`, { cause: e });
        throw e;
      }
    },
  });
}

export interface Clients {
  core: CoreV1Api;
  policy: PolicyV1Api;
  networking: NetworkingV1Api;
  custom: CustomObjectsApi;
  coordination: CoordinationV1Api;
}

export function makeClients(kc: KubeConfig, timeoutMs = DEFAULT_TIMEOUT_MS): Clients {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('kubeconfig has no current cluster');
  // The same configuration KubeConfig.makeApiClient builds, with our HTTP library.
  const configuration = createConfiguration({
    baseServer: new ServerConfiguration(cluster.server, {}),
    authMethods: { default: kc },
    httpApi: timeoutHttpLibrary(timeoutMs),
  });
  return {
    core: new CoreV1Api(configuration),
    policy: new PolicyV1Api(configuration),
    networking: new NetworkingV1Api(configuration),
    custom: new CustomObjectsApi(configuration),
    coordination: new CoordinationV1Api(configuration),
  };
}

/** HTTP status of a failed API call, if it has one. */
export function apiErrorCode(e: unknown): number | undefined {
  if (e instanceof ApiException) return e.code;
  if (typeof e === 'object' && e !== null) {
    const { code, statusCode } = e as { code?: unknown; statusCode?: unknown };
    if (typeof code === 'number') return code;
    if (typeof statusCode === 'number') return statusCode;
  }
  return undefined;
}

export const isNotFound = (e: unknown): boolean => apiErrorCode(e) === 404;
export const isConflict = (e: unknown): boolean => apiErrorCode(e) === 409;

/** Awaits an API call, taking the failures `skip` accepts as success ("already exists", "already gone"). */
export async function ignore(skip: (e: unknown) => boolean, call: Promise<unknown>): Promise<void> {
  try {
    await call;
  } catch (e) {
    if (!skip(e)) throw e;
  }
}

/** A one-line description of an API failure: the Status message the server sent, else the error's own. */
export function apiErrorMessage(e: unknown): string {
  if (e instanceof ApiException) {
    const body: unknown = e.body;
    let status: { reason?: string; message?: string } | undefined;
    if (typeof body === 'string') {
      try {
        status = JSON.parse(body) as typeof status;
      } catch {
        status = { message: body };
      }
    } else if (typeof body === 'object' && body !== null) {
      status = body as typeof status;
    }
    const detail = status?.message ?? e.message;
    return `${e.code}${status?.reason ? ` ${status.reason}` : ''}: ${detail}`;
  }
  return e instanceof Error ? e.message : String(e);
}

/** Options that make a patch call send a JSON merge patch (the default is a JSON patch). */
export function mergePatchOptions(): ConfigurationOptions<ObservableMiddleware> {
  return setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
}
