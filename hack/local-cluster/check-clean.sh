#!/usr/bin/env bash
# After cluster:down: fails when any process, network namespace, link, mount or iptables rule of the local cluster remains.
set -u
root="$(cd "$(dirname "$0")/../.." && pwd)"
dir="${RRO_CLUSTER_DIR_OVERRIDE:-$root/.cluster}"
bad=0
for p in /proc/[0-9]*; do
  # redis-server overwrites its environment with its title: a container process is found by its log file.
  out="$(readlink "$p/fd/1" 2>/dev/null)"
  if { tr '\0' '\n' < "$p/environ"; } 2>/dev/null | grep -qx "RRO_CLUSTER_DIR=$dir" || [ "${out#"$dir"/}" != "$out" ]; then
    echo "leftover process: ${p#/proc/} $(tr '\0' ' ' < "$p/cmdline" 2>/dev/null | cut -c1-120)"; bad=1
  fi
done
if ip netns list 2>/dev/null | grep -q '^rro-'; then echo "leftover netns: $(ip netns list | grep '^rro-' | tr '\n' ' ')"; bad=1; fi
if ip -o link show 2>/dev/null | grep -Eq '^[0-9]+: (rro0|rv[0-9a-f]{8})[:@]'; then echo "leftover links: $(ip -o link show | grep -Eo '^[0-9]+: (rro0|rv[0-9a-f]{8})')"; bad=1; fi
if grep -q "$dir" /proc/mounts; then echo "leftover mounts: $(grep "$dir" /proc/mounts | cut -d' ' -f2)"; bad=1; fi
if grep -q ' /run/netns/rro-' /proc/mounts; then echo "leftover netns mounts"; bad=1; fi
cache="${RRO_CACHE:-$HOME/.cache/redis-replication-operator}"
if [ ! -e "$cache/netns-mount-preexisting" ] && awk '$5 == "/run/netns"' /proc/self/mountinfo | grep -q .; then echo "leftover mount: /run/netns"; bad=1; fi
for t in filter nat mangle; do
  if iptables -w -t "$t" -S 2>/dev/null | grep -Eq 'RRO-|KUBE-'; then echo "leftover iptables rules in $t: $(iptables -w -t "$t" -S | grep -Ec 'RRO-|KUBE-')"; bad=1; fi
done
if [ -e "$dir" ]; then echo "leftover directory: $dir"; bad=1; fi
# Kubelet nodes: pod network namespaces made by CNI, cgroups under each node's root, shim sockets.
if ip netns list 2>/dev/null | grep -q '^cni-'; then echo "leftover netns: $(ip netns list | grep '^cni-' | tr '\n' ' ')"; bad=1; fi
if ls -d /sys/fs/cgroup/*/rro-rro-node-* >/dev/null 2>&1; then echo "leftover cgroups: $(ls -d /sys/fs/cgroup/*/rro-rro-node-* | tr '\n' ' ')"; bad=1; fi
if [ -e "$cache/run-containerd-made-by-cluster" ]; then echo "leftover: /run/containerd (made by the cluster)"; bad=1; fi
if find /var/log/containers -maxdepth 1 -lname "$dir/*" 2>/dev/null | grep -q .; then echo "leftover log links in /var/log/containers"; bad=1; fi
if [ "$bad" = 0 ]; then echo "cluster:down left nothing behind"; fi
exit "$bad"
