#!/usr/bin/env bash
# Build the imagegate container image as an OCI image layout, with Debian tools only (no
# Docker daemon): mmdebstrap makes a bookworm root filesystem with python3, pip installs the
# wheel and its runtime dependencies into it, umoci turns it into an OCI image.
#
#   deploy/image/build.sh WHEEL OUT_DIR
#
# Result: OUT_DIR/oci (an OCI image layout holding one image, tagged with the version) and
# OUT_DIR/image.json (name, tag, digest, sizes). Two layers: the Debian base, then imagegate
# and its Python dependencies; the image runs as uid/gid 65532 with imagegate as entry point.
#
# The base layer is cached in $IMAGE_CACHE (default ~/.cache/imagegate-image) under a key made
# of packages.txt, this script, the suite, the architecture and the mmdebstrap version, so a
# second build only redoes the Python layer. Run as root (mmdebstrap's root mode, and umoci
# unpack/repack keep file owners). See docs/install.md.
set -euo pipefail

WHEEL=$(realpath "$1")
OUT=$2
HERE=$(cd "$(dirname "$0")" && pwd)
IMAGE_NAME=${IMAGE_NAME:-imagegate}
SUITE=${IMAGE_SUITE:-bookworm}
MIRROR=${IMAGE_MIRROR:-http://deb.debian.org/debian}
CACHE=${IMAGE_CACHE:-${XDG_CACHE_HOME:-${HOME:-/root}/.cache}/imagegate-image}
PYVER=3.11              # bookworm's python3; the wheels pip picks must match it
APP_UID=65532
SITE=/usr/local/lib/python$PYVER/dist-packages

say() { printf 'image: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root (mmdebstrap and umoci keep file owners only as root)"
[ -f "$WHEEL" ] || die "no wheel at $1 (run make dist)"
for tool in mmdebstrap umoci; do
  command -v "$tool" >/dev/null || die "$tool is missing: apt-get install mmdebstrap umoci"
done

# the version and tag come from the wheel's file name: imagegate-0.1.0-py3-none-any.whl
VERSION=$(basename "$WHEEL" | cut -d- -f2)
TAG=${IMAGE_TAG:-$VERSION}
case "$(dpkg --print-architecture)" in
  amd64) ARCH=amd64 MACHINE=x86_64 ;;
  arm64) ARCH=arm64 MACHINE=aarch64 ;;
  *) die "unsupported architecture $(dpkg --print-architecture)" ;;
esac
# wheels built for bookworm's glibc (2.36) or older: pip takes only the platforms it is given
PIP_PLATFORMS=()
for minor in $(seq 17 36); do PIP_PLATFORMS+=(--platform "manylinux_2_${minor}_$MACHINE"); done
PACKAGES=$(grep -v '^#' "$HERE/packages.txt" | tr -s ' \n' ',' | sed 's/^,//; s/,$//')

# --- the base layer (cached) -------------------------------------------------------------
KEY=$( { cat "$HERE/packages.txt" "$HERE/base.sh"; echo "$SUITE $ARCH $MIRROR $APP_UID"
         mmdebstrap --version; } | sha256sum | cut -c1-16)
BASE=$CACHE/base-$KEY
mkdir -p "$CACHE"
if [ ! -f "$BASE/done" ]; then
  say "building the Debian $SUITE base ($PACKAGES) into $BASE (cached for later builds)"
  rm -rf "$BASE" "$BASE.tmp"
  mkdir -p "$BASE.tmp"
  SUITE=$SUITE MIRROR=$MIRROR ARCH=$ARCH PACKAGES=$PACKAGES APP_UID=$APP_UID \
    "$HERE/base.sh" "$BASE.tmp"
  touch "$BASE.tmp/done"
  mv "$BASE.tmp" "$BASE"
else
  say "Debian base from the cache: $BASE"
fi

# --- the imagegate layer -----------------------------------------------------------------
WORK=$(mktemp -d "${TMPDIR:-/tmp}/imagegate-image.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
LAYOUT=$WORK/oci
cp -a "$BASE/oci" "$LAYOUT"
umoci unpack --image "$LAYOUT:base" "$WORK/bundle" >/dev/null
ROOTFS=$WORK/bundle/rootfs

say "installing $(basename "$WHEEL") and its runtime dependencies (cp${PYVER/./} manylinux wheels)"
PIP=${PIP:-pip}
"$PIP" install --quiet --disable-pip-version-check --no-warn-script-location --no-compile \
  --only-binary=:all: --implementation cp --python-version "$PYVER" --abi "cp${PYVER/./}" \
  "${PIP_PLATFORMS[@]}" --target "$ROOTFS$SITE" "$WHEEL"
rm -rf "${ROOTFS:?}$SITE/bin"   # scripts with the build machine's interpreter in the #! line
# the wheels' extension modules carry their debug symbols (aiohttp's parser: 3.3 MB, 0.5 MB
# without): nothing in the image reads them, and every pull would download them
find "$ROOTFS$SITE" -type f -name '*.so' -exec strip --strip-unneeded {} +
install -d "$ROOTFS/usr/local/bin"
cat > "$ROOTFS/usr/local/bin/imagegate" <<'EOF'
#!/usr/bin/python3
import sys

from imagegate.cli.main import entry

sys.exit(entry())
EOF
chmod 0755 "$ROOTFS/usr/local/bin/imagegate"
# byte-code compiled once by the image's own python: the root filesystem is read-only at run
# time (PYTHONDONTWRITEBYTECODE), and start-up should not compile every module each time
chroot "$ROOTFS" /usr/bin/python3 -m compileall -q "$SITE" >/dev/null
chroot "$ROOTFS" /usr/local/bin/imagegate --version >/dev/null \
  || die "imagegate does not start in the new root filesystem"

umoci repack --image "$LAYOUT:$TAG" --history.created_by "pip install $(basename "$WHEEL")" \
  "$WORK/bundle" >/dev/null
umoci config --image "$LAYOUT:$TAG" \
  --config.user "$APP_UID:$APP_UID" \
  --config.entrypoint /usr/local/bin/imagegate \
  --config.cmd=--help \
  --config.workingdir /var/lib/imagegate \
  --config.env PATH=/usr/local/bin:/usr/bin:/bin \
  --config.env HOME=/home/imagegate \
  --config.env XDG_STATE_HOME=/var/lib \
  --config.env PYTHONDONTWRITEBYTECODE=1 \
  --config.env PYTHONUNBUFFERED=1 \
  --config.label "org.opencontainers.image.title=$IMAGE_NAME" \
  --config.label "org.opencontainers.image.version=$VERSION" \
  --config.label "org.opencontainers.image.licenses=Apache-2.0" \
  --config.label "org.opencontainers.image.base.name=debian:$SUITE" \
  --history.created_by "imagegate config: user $APP_UID, entrypoint imagegate"
umoci rm --image "$LAYOUT:base"
umoci gc --layout "$LAYOUT"

# --- result ------------------------------------------------------------------------------
mkdir -p "$OUT"
rm -rf "$OUT/oci"
mv "$LAYOUT" "$OUT/oci"
python3 "$HERE/describe.py" "$OUT/oci" "$TAG" --name "$IMAGE_NAME" --rootfs "$ROOTFS" \
  > "$OUT/image.json"
cat "$OUT/image.json" >&2
