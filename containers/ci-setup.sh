#!/usr/bin/env bash
# Make this machine ready for tests/docker: a running Docker engine, the offline base image
# and the serving images. Called by .ci/run before `make test`, as root.
#
# Idempotent: the engine is installed only if dockerd is missing and started only if no
# engine answers; the base image is built only if absent. The wheelhouse and the images are
# always brought up to date, which is quick when nothing changed (pip skips downloaded
# files, docker's build cache hits).
set -euo pipefail
cd "$(dirname "$0")/.."

BASE_IMAGE=serving-python:3.11-bookworm
DOCKERD_LOG=${DOCKERD_LOG:-/var/log/dockerd.log}

say() { echo "ci-setup: $*" >&2; }
engine_answers() { docker version >/dev/null 2>&1; }

install_packages() {
    say "installing $*"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# Start dockerd with the given extra flags; true once the engine answers, false if it
# exits or stays silent for a minute (then it is stopped).
start_dockerd() {
    say "starting dockerd${*:+ $*} (log: $DOCKERD_LOG)"
    nohup dockerd "$@" >>"$DOCKERD_LOG" 2>&1 &
    local pid=$!
    for _ in $(seq 60); do
        engine_answers && return 0
        kill -0 "$pid" 2>/dev/null || return 1
        sleep 1
    done
    kill "$pid"
    return 1
}

missing=()
command -v dockerd >/dev/null || missing+=(docker.io)
command -v debootstrap >/dev/null || missing+=(debootstrap)
[ ${#missing[@]} -eq 0 ] || install_packages "${missing[@]}"

if ! engine_answers; then
    # Some kernels (minimal VMs) lack the netfilter modules dockerd programs by default;
    # without iptables rules containers still reach each other and published ports still
    # work through docker-proxy, which is all the tests need.
    start_dockerd || start_dockerd --iptables=false || {
        say "no Docker engine could be started; the end of $DOCKERD_LOG:"
        tail -n 20 "$DOCKERD_LOG" >&2
        exit 1
    }
fi

if ! docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
    make base-image
fi
make wheels
make build BASE_IMAGE=serving-python:3.11-bookworm
