#!/bin/sh
# As MinIO's image does: arguments that do not name a program are minio's (`server /data ...`).
set -e
if [ "$1" != "minio" ] && [ -n "$1" ] && ! command -v "$1" >/dev/null 2>&1; then
  set -- minio "$@"
fi
exec "$@"
