#!/usr/bin/env bash
# The image's base layer: a Debian root filesystem made by mmdebstrap, as a one-layer OCI
# layout tagged "base" in DIR/oci. Called by build.sh, which
# caches DIR under a key made of this file and packages.txt; environment: SUITE, MIRROR,
# ARCH, PACKAGES (comma-separated), APP_UID.
set -euo pipefail
DIR=$1

# Essential packages plus PACKAGES; /usr merged by mmdebstrap's hook, not by the usrmerge
# package (which pulls in perl: 45 MB); no device nodes in /dev (the container runtime mounts
# /dev); no docs (copyright files are kept), man pages, info or locales; the non-root user and
# its state directory; no apt lists, caches or logs. mmdebstrap's output goes to DIR/base.log.
mmdebstrap --quiet --variant=essential --architectures="$ARCH" --include="$PACKAGES" \
  --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr --skip=output/dev \
  --dpkgopt='path-exclude=/usr/share/doc/*' \
  --dpkgopt='path-include=/usr/share/doc/*/copyright' \
  --dpkgopt='path-exclude=/usr/share/man/*' \
  --dpkgopt='path-exclude=/usr/share/info/*' \
  --dpkgopt='path-exclude=/usr/share/locale/*' \
  --dpkgopt='path-exclude=/usr/share/lintian/*' \
  --customize-hook="echo 'imagegate:x:$APP_UID:$APP_UID:imagegate:/home/imagegate:/usr/sbin/nologin' >> \"\$1/etc/passwd\"" \
  --customize-hook="echo 'imagegate:x:$APP_UID:' >> \"\$1/etc/group\"" \
  --customize-hook="echo 'imagegate:*:19000:0:99999:7:::' >> \"\$1/etc/shadow\"" \
  --customize-hook="install -d -o $APP_UID -g $APP_UID -m 0750 \"\$1/home/imagegate\" \"\$1/var/lib/imagegate\"" \
  --customize-hook='rm -rf "$1"/var/cache/apt/* "$1"/var/cache/debconf/*-old "$1"/var/lib/apt/lists/* "$1"/var/log/* "$1"/tmp/*' \
  "$SUITE" "$DIR/rootfs.tar" "$MIRROR" > "$DIR/base.log" 2>&1 \
  || { tail -n 40 "$DIR/base.log" >&2; echo "image: mmdebstrap failed; log $DIR/base.log" >&2; exit 1; }

umoci init --layout "$DIR/oci"
umoci new --image "$DIR/oci:empty"
umoci unpack --image "$DIR/oci:empty" "$DIR/bundle" >/dev/null
tar -xpf "$DIR/rootfs.tar" -C "$DIR/bundle/rootfs" --numeric-owner
install -d -m 0755 "$DIR/bundle/rootfs/dev"   # empty: a mount point for the runtime
umoci repack --image "$DIR/oci:base" --history.created_by "mmdebstrap $SUITE: $PACKAGES" \
  "$DIR/bundle" >/dev/null
umoci rm --image "$DIR/oci:empty"
umoci gc --layout "$DIR/oci"
rm -rf "$DIR/bundle" "$DIR/rootfs.tar"
