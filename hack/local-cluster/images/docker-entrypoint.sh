#!/bin/sh
# Entrypoint of the local cluster's Redis and Valkey images, with the official images' convention:
# arguments that start with "-" or name a .conf file are the server's; started as root, the server
# drops to the image's user (uid 999). The operator's pods set `command`, so this runs only for
# pods that use the image's own entrypoint.
set -e
if [ "${1#-}" != "$1" ] || [ "${1%.conf}" != "$1" ]; then
  set -- "$SERVER" "$@"
fi
if [ "$(id -u)" = 0 ] && { [ "$1" = redis-server ] || [ "$1" = "$SERVER" ]; }; then
  exec setpriv --reuid=999 --regid=999 --init-groups "$@"
fi
exec "$@"
