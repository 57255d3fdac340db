#!/bin/sh
# Entrypoint of the local cluster's Redis and Valkey images, with the official images' convention:
# arguments that start with "-" or name a .conf file are the server's; started as root, the data
# directory is given to the image's user (uid 999) and the server drops to it. The operator's pods set `command`, so this runs only for
# pods that use the image's own entrypoint.
set -e
if [ "${1#-}" != "$1" ] || [ "${1%.conf}" != "$1" ]; then
  set -- "$SERVER" "$@"
fi
if [ "$(id -u)" = 0 ] && { [ "$1" = redis-server ] || [ "$1" = "$SERVER" ]; }; then
  # As the official images: the data directory (the working directory) is given to the server's user.
  find . \! -user 999 -exec chown 999 '{}' +
  exec setpriv --reuid=999 --regid=999 --init-groups "$@"
fi
exec "$@"
