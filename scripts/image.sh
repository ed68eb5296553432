#!/usr/bin/env bash
# `npm run image`: builds the pushcache image (pushcache:dev) with the classic builder. Base images
# that are not present and cannot be pulled are made here (scripts/stand-in-images.sh), and npm in
# the build installs offline from a cache holding exactly package-lock.json's packages, copied from
# the host's npm cache (scripts/npm-offline-cache.js): no registry and no npm config reach the build.
#   PUSHCACHE_IMAGE   tag to build (default pushcache:dev)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
tag=${PUSHCACHE_IMAGE:-pushcache:dev}
export DOCKER_BUILDKIT=0

docker info >/dev/null 2>&1 || {
  echo "image: no Docker engine answers at ${DOCKER_HOST:-the default socket}; start one (as root: dockerd --data-root DIR &) or set DOCKER_HOST" >&2
  exit 1
}
bash scripts/stand-in-images.sh --image-only

# Rebuilt only when the lock file changes, so the build's install layer stays cached.
stamp=.image-cache/npm-cache/lock.sha256
lock=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$lock" ]; then
  node scripts/npm-offline-cache.js package-lock.json "$(npm config get cache)" .image-cache/npm-cache
  echo "$lock" >"$stamp"
fi

mkdir -p .pushcache
log=.pushcache/image-build.log
started=$(date +%s)
if ! docker build -t "$tag" --label "org.pushcache.source=$(node scripts/image-source-digest.js)" . >"$log" 2>&1; then
  tail -n 40 "$log" >&2
  echo "image: docker build failed (whole log: $log)" >&2
  exit 1
fi
grep -E '^(Step [0-9]+/[0-9]+ : (FROM|RUN)|Successfully tagged)' "$log" | cut -c1-140
echo "image: $tag built in $(( $(date +%s) - started )) s"
node scripts/image-report.js "$tag"
