#!/bin/sh
# `redis-server ARGS` without a config file, answering other containers (Redis's protected
# mode would refuse them without a password; the official image turns it off too).
set -eu
if [ "${1:-}" = redis-server ]; then
    shift
    exec redis-server --protected-mode no "$@"
fi
exec "$@"
