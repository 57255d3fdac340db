// Loads an image archive into every node of the running local cluster (kubelet nodes), replacing an
// image of the same name: `tsx hack/local-cluster/load-image.ts NAME ARCHIVE` (npm run image:build).
import { clusterNodeKind, clusterNodes, clusterPaths, daemonPid, log } from './common.js';
import { containerdName, importImages } from './kubelet-node.js';

const [name, file] = process.argv.slice(2);
if (!name || !file) throw new Error('usage: load-image.ts NAME ARCHIVE');
const paths = clusterPaths();
const nodes = clusterNodes(paths).filter((n) => daemonPid(paths, containerdName(n.name)) !== undefined);
if (clusterNodeKind(paths) !== 'kubelet' || nodes.length === 0) {
  log(`no kubelet node runs: ${name} is loaded into the nodes at the next cluster:up`);
} else {
  await Promise.all(nodes.map((n) => importImages(paths, n.name, [{ name, file }], { force: true })));
  log(`${name} loaded into ${nodes.map((n) => n.name).join(', ')}`);
}
