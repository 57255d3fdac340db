#!/usr/bin/env bash
# npm run image:build: builds the operator image from the repository's Dockerfile with buildah (no
# Docker needed; the Dockerfile's base image is made here under the name it gives, by
# local-cluster/build-images.sh) as redis-replication-operator:dev, keeps it as a docker-archive in
# the cache (cluster:up loads it into new nodes) and loads it into every node of the running local cluster.
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE="${RRO_CACHE:-$HOME/.cache/redis-replication-operator}"
IMAGE=docker.io/library/redis-replication-operator:dev
OUT="$CACHE/operator-image/redis-replication-operator-dev.tar"
log() { echo "[image] $*" >&2; }
buildah() { command buildah --root "$CACHE/buildah/storage" --runroot "$CACHE/buildah/run" --storage-driver vfs "$@"; }

bash hack/local-cluster/build-images.sh >/dev/null
t0=$(date +%s)
log "building $IMAGE from Dockerfile (npm ci and tsc run inside the build)"
# chroot isolation and the host's network: the build's npm ci reaches the registry as the host's npm
# does, with its registry and CA file (a machine behind a TLS-inspecting proxy needs that CA), given to
# the RUN steps as npm's global config; nothing of it stays in the image.
npmrc=$(mktemp)
trap 'rm -f "$npmrc"' EXIT
printf "registry=%s\nupdate-notifier=false\nfund=false\naudit=false\n" "$(npm config get registry)" > "$npmrc"
mounts=(--volume "$npmrc:/usr/local/etc/npmrc:ro")
cafile=$(npm config get cafile)
if [ -n "$cafile" ] && [ "$cafile" != null ] && [ "$cafile" != undefined ] && [ -f "$cafile" ]; then
  echo "cafile=/etc/npm-build-ca.crt" >> "$npmrc"
  mounts+=(--volume "$cafile:/etc/npm-build-ca.crt:ro")
fi
# No registry is reachable here: the Dockerfile's base is the image build-images.sh made under the
# Dockerfile's name for it, which has no digest of its own (a digest names the registry's image).
base=$(sed -n 's/^ARG NODE_IMAGE=\([^@]*\)@sha256:[0-9a-f]*$/\1/p' Dockerfile)
[ -n "$base" ] || { log "Dockerfile: no ARG NODE_IMAGE=<name>@sha256:<digest>"; exit 1; }
buildah bud --quiet --isolation chroot --network host --pull=never --layers=false "${mounts[@]}" \
  --build-arg NODE_IMAGE="$base" -f Dockerfile -t "$IMAGE" . >&2
mkdir -p "$(dirname "$OUT")"
rm -f "$OUT.part"
buildah push --quiet "$IMAGE" "docker-archive:$OUT.part:$IMAGE" >&2
mv "$OUT.part" "$OUT"
# Only the newest build is kept: earlier ones are unnamed images in the build storage.
buildah rmi --prune >/dev/null 2>&1 || true
log "built $IMAGE in $(( $(date +%s) - t0 ))s ($(du -m "$OUT" | cut -f1) MiB)"
npx tsx hack/local-cluster/load-image.ts "$IMAGE" "$OUT"
