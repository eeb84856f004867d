#!/bin/sh
# Build a Debian bookworm image with python3 from Debian's own packages, then
# `docker import` it. This is the base for machines that cannot pull
# python:3.11-slim-bookworm (air-gapped CI): it needs only a Debian mirror.
#
# usage: containers/base-image.sh [TAG]    (as root; needs debootstrap and docker)
# env:   DEBIAN_MIRROR (default http://deb.debian.org/debian), DEBIAN_SECURITY_MIRROR
#        (default http://deb.debian.org/debian-security), DEBIAN_SUITE (default bookworm)
set -eu

tag=${1:-serving-python:3.11-bookworm}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
security_mirror=${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
suite=${DEBIAN_SUITE:-bookworm}

rootfs=$(mktemp -d)
chmod 755 "$rootfs"  # apt downloads as the _apt user, who must reach /var/cache/apt inside
# --one-file-system: never follow a mount debootstrap might have left inside (proc, sys)
trap 'rm -rf --one-file-system "$rootfs"' EXIT

# minbase: essential packages plus apt, nothing else. python3-venv brings
# ensurepip, so `python3 -m venv` gives a venv with pip, as on python:*-slim.
debootstrap --variant=minbase --include=python3,python3-venv "$suite" "$rootfs" "$mirror"

# debootstrap installs the suite's last point release; the updates and security suites
# carry the fixes since then (python3.11 and openssl among them).
printf 'deb %s %s-updates main\ndeb %s %s-security main\n' \
    "$mirror" "$suite" "$security_mirror" "$suite" > "$rootfs/etc/apt/sources.list.d/updates.list"
cp /etc/resolv.conf "$rootfs/etc/resolv.conf"
chroot "$rootfs" apt-get update -qq
chroot "$rootfs" env DEBIAN_FRONTEND=noninteractive apt-get upgrade -y -qq

# What an image never needs at run time: package caches and indexes (apt-get
# update restores them), documentation, translations, install logs, and the
# build machine's own name and resolver (docker provides both per container).
rm -rf "$rootfs"/var/cache/apt/* "$rootfs"/var/lib/apt/lists/* \
       "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* \
       "$rootfs"/usr/share/locale/* "$rootfs"/var/log/* \
       "$rootfs"/etc/hostname "$rootfs"/etc/resolv.conf

tar -C "$rootfs" --numeric-owner -c . | docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'CMD ["python3"]' \
    - "$tag"
