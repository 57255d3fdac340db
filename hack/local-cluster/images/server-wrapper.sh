#!/bin/sh
# /usr/local/bin/<server> of the local cluster's images, ahead of /usr/bin/<server> on the PATH:
# the official Redis and Valkey images build their servers with protected mode off (clients come
# through the pod network, never from loopback); Debian's and the wheel's builds have it on. This
# gives the same default; a config file or a --protected-mode argument still overrides it.
set -e
real="/usr/bin/$(basename "$0")"
case "${1:-}" in
  -v|--version|-h|--help|--test-memory|--check-system) exec "$real" "$@" ;;
esac
if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then
  conf=$1
  shift
  exec "$real" "$conf" --protected-mode no "$@"
fi
exec "$real" --protected-mode no "$@"
