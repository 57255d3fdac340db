// npm run cluster:fault -- <fault> <target>: the faults of faults.ts from the command line.
import {
  freezePod, healPod, killContainer, nodeDown, nodeUp, partitionPod, thawPod,
} from './faults.js';

const USAGE = `usage: npm run cluster:fault -- <fault> <target>
  node-down NODE            the node stops reporting (kubelet and containerd stopped) and its pods are cut off from the network
  node-up NODE              undoes node-down: network back, the node resumes and reconciles
  kill NAMESPACE/POD[/CONTAINER]     SIGKILL of the container (the kubelet restarts it)
  freeze NAMESPACE/POD[/CONTAINER]   containerd pause (freezer cgroup)
  thaw NAMESPACE/POD[/CONTAINER]     containerd resume
  partition NAMESPACE/POD   drop all traffic of the pod's eth0, both directions
  heal NAMESPACE/POD        undo partition`;

const POD_FAULTS: Record<string, (ns: string, pod: string, container?: string) => Promise<void>> = {
  kill: killContainer, freeze: freezePod, thaw: thawPod,
  partition: (ns, pod) => partitionPod(ns, pod), heal: (ns, pod) => healPod(ns, pod),
};

async function main(argv: string[]): Promise<void> {
  const [fault, target, ...rest] = argv;
  if (!fault || !target || rest.length > 0) throw new Error(USAGE);
  if (fault === 'node-down') return nodeDown(target);
  if (fault === 'node-up') return nodeUp(target);
  const fn = POD_FAULTS[fault];
  const [ns, pod, container] = target.split('/');
  if (!fn || !ns || !pod) throw new Error(USAGE);
  return fn(ns, pod, container);
}

main(process.argv.slice(2)).then(
  () => {
    process.stderr.write(`[cluster] ${process.argv.slice(2).join(' ')}: done\n`);
    process.exit(0);
  },
  (err: unknown) => {
    process.stderr.write(`[cluster] cluster:fault failed: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
