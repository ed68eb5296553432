#!/usr/bin/env bash
# Makes the Temporal CLI (dev server + Web UI) and MinIO available to this clone.
# Prefers binaries already on PATH; otherwise builds them once with `go install` into a cache
# shared by every clone on the machine, and links them into the git-ignored .tools/bin.
set -euo pipefail

TEMPORAL_CLI_VERSION=v1.5.1   # newer CLIs carry a replace directive and cannot be `go install`ed
# MinIO publishes source only; this pseudo-version is RELEASE.2025-10-15 + fixes as resolved by @latest on 2026-11-23.
MINIO_VERSION=v0.0.0-20260212201848-7aac2a2c5b7c

repo=$(cd "$(dirname "$0")/.." && pwd)
cache=${PUSHCACHE_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/pushcache/bin}
mkdir -p "$cache" "$repo/.tools/bin"

provide() {
  local name=$1 module=$2
  if command -v "$name" >/dev/null 2>&1 && [ "$(command -v "$name")" != "$repo/.tools/bin/$name" ]; then
    echo "provision: using $name from PATH ($(command -v "$name"))"
    return
  fi
  if [ ! -x "$cache/$name" ]; then
    command -v go >/dev/null 2>&1 || { echo "provision: $name is not installed and Go is not available to build it" >&2; exit 1; }
    echo "provision: building $name ($module) with go install; the first build takes a few minutes"
    GOBIN="$cache" CGO_ENABLED=0 go install "$module"
  fi
  ln -sf "$cache/$name" "$repo/.tools/bin/$name"
  echo "provision: $name ready at $cache/$name"
}

provide temporal "github.com/temporalio/cli/cmd/temporal@$TEMPORAL_CLI_VERSION" &
t=$!
provide minio "github.com/minio/minio@$MINIO_VERSION" &
m=$!
wait $t
wait $m
