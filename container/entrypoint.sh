#!/bin/sh
# The image's entrypoint: `IMAGE [ROLE] [ARGS...]`, one image for every process.
#
#   all (default)  web and worker together (the Procfile run by honcho): one container
#   web            the web process, on CHATTRAIN_HOST:PORT
#   worker         the reply worker
#   migrate        bring the database to the newest schema, then exit
#   anything else  a command: `IMAGE chattrain users create --role trainee`
#
# web and worker run their Procfile lines (extra ARGS are appended), in place of this
# shell, so a stop's SIGTERM reaches them directly: the worker puts a reply in flight
# back on the queue, as in the Procfile deployment. honcho passes it on to both.
set -eu

procfile_line() {
    line=$(sed -n "s/^$1:[[:space:]]*//p" /app/Procfile)
    [ -n "$line" ] || { echo "no '$1' line in /app/Procfile" >&2; exit 64; }
    printf '%s' "$line"
}

role=${1:-all}
[ $# -gt 0 ] && shift

case "$role" in
    all)
        exec honcho --procfile /app/Procfile --app-root /app start "$@"
        ;;
    web | worker)
        eval "exec $(procfile_line "$role") \"\$@\""
        ;;
    migrate)
        exec chattrain db upgrade "$@"
        ;;
    *)
        exec "$role" "$@"
        ;;
esac
