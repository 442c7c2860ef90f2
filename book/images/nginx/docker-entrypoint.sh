#!/bin/sh
# docktest's stand-in for nginx's entrypoint: runs its arguments (busybox httpd) as a child.
# As PID 1, httpd would ignore SIGTERM and `docker stop` would wait 10 s for the kill; nginx stops at
# once, so this shell forwards the stop signal and exits as nginx does.
trap 'kill -TERM "$child" 2>/dev/null; wait "$child"; exit 0' TERM INT QUIT
"$@" &
child=$!
wait "$child"
