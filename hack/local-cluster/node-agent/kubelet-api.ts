// The part of the kubelet API that `kubectl logs` needs: GET /containerLogs/<ns>/<pod>/<container>.
// Served over TLS on the node IP, port 10250, to clients with a certificate of the cluster CA (the API server).
import https from 'node:https';
import { createReadStream, existsSync, readFileSync, readdirSync, statSync, openSync, readSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import type { ClusterPaths } from '../common.js';
import { SELF } from './self.js';

function findLog(paths: ClusterPaths, ns: string, pod: string, container: string): string | undefined {
  const dir = join(paths.logs, 'pods');
  let files: string[] = [];
  try {
    files = readdirSync(dir).filter((f) => f.startsWith(`${ns}_${pod}_`) && f.endsWith(`_${container}.log`));
  } catch {
    return undefined;
  }
  const full = files.map((f) => join(dir, f)).sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
  return full[0];
}

function tail(file: string, lines: number): string {
  const text = readFileSync(file, 'utf8');
  const all = text.endsWith('\n') ? text.slice(0, -1).split('\n') : text.split('\n');
  return all.slice(-lines).join('\n') + (all.length ? '\n' : '');
}

export function startKubeletApi(paths: ClusterPaths, log: (m: string) => void): https.Server {
  const server = https.createServer({
    key: readFileSync(join(paths.pki, 'apiserver.key')),
    cert: readFileSync(join(paths.pki, 'apiserver.crt')),
    ca: readFileSync(join(paths.pki, 'ca.crt')),
    requestCert: true,
    rejectUnauthorized: true,
  }, (req, res) => {
    const url = new URL(req.url ?? '/', 'https://node');
    if (url.pathname === '/healthz') {
      res.end('ok');
      return;
    }
    const m = /^\/containerLogs\/([^/]+)\/([^/]+)\/([^/]+)$/.exec(url.pathname);
    if (!m || req.method !== 'GET') {
      res.writeHead(404).end(`the local node agent serves only /containerLogs (not ${url.pathname}); use nsenter or ip netns exec for exec\n`);
      return;
    }
    const [, ns, pod, container] = m.map((x) => decodeURIComponent(x ?? ''));
    const file = findLog(paths, ns!, pod!, container!);
    if (!file || !existsSync(file)) {
      res.writeHead(404).end(`no log for container ${container} of pod ${ns}/${pod}\n`);
      return;
    }
    res.writeHead(200, { 'Content-Type': 'text/plain' });
    const tailLines = url.searchParams.get('tailLines');
    let pos: number;
    if (tailLines) {
      res.write(tail(file, Number(tailLines)));
      pos = statSync(file).size;
    } else {
      pos = 0;
    }
    if (url.searchParams.get('follow') !== 'true') {
      if (tailLines) res.end();
      else createReadStream(file).pipe(res);
      return;
    }
    // follow: poll the file for growth until the client goes away.
    const timer = setInterval(() => {
      try {
        const size = statSync(file).size;
        if (size > pos) {
          const fd = openSync(file, 'r');
          const buf = Buffer.alloc(size - pos);
          readSync(fd, buf, 0, buf.length, pos);
          closeSync(fd);
          pos = size;
          res.write(buf);
        }
      } catch {
        clearInterval(timer);
        res.end();
      }
    }, 250);
    req.on('close', () => clearInterval(timer));
  });
  server.on('error', (err) => log(`kubelet API: ${err.message}`));
  server.listen(10250, SELF.ip, () => log(`kubelet API (logs) on https://${SELF.ip}:10250`));
  return server;
}
