#!/usr/bin/env bash
# Builds the OCI image of the controller, proxy and lbctl from the Bazel binaries, offline apart
# from a Debian mirror (apt's, as on these machines): a Debian 12 root file system made by
# mmdebstrap holding only the shared libraries the three binaries load (found with ldd, mapped to
# their packages with dpkg -S, and those packages' hard dependencies), no shell, no package
# manager; the binaries in /usr/local/bin; user 65532 (nonroot). umoci packs it, and the result is
# an oci-archive that `podman load -i` (and `skopeo`, `ctr import`...) reads.
#
#   deploy/image/build.sh [OUTPUT.tar]   (default: bazel-bin/deploy/lb-image.oci.tar)
#
# Environment: LB_IMAGE_NAME and LB_IMAGE_TAG (default localhost/lb and latest: `podman load`
# names the image NAME:TAG, the name deploy/kubernetes uses), LB_DEBIAN_MIRROR (default
# http://deb.debian.org/debian; the security suite comes from LB_DEBIAN_SECURITY_MIRROR, default
# http://deb.debian.org/debian-security). Needs root (mmdebstrap's root mode and umoci's file
# ownership); installs mmdebstrap and umoci with apt if they are missing.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${1:-bazel-bin/deploy/lb-image.oci.tar}
tag=${LB_IMAGE_TAG:-latest}
name=${LB_IMAGE_NAME:-localhost/lb}
mirror=${LB_DEBIAN_MIRROR:-http://deb.debian.org/debian}
security=${LB_DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
if [ "$(id -u)" -ne 0 ]; then
  echo "build.sh: needs root (mmdebstrap root mode, umoci file ownership); run with sudo" >&2
  exit 1
fi
need=()
command -v mmdebstrap >/dev/null || need+=(mmdebstrap)
command -v umoci >/dev/null || need+=(umoci)
if [ ${#need[@]} -gt 0 ]; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

bazel build //controller:controller //proxy:proxy //cli:lbctl
bins=(bazel-bin/controller/controller bazel-bin/proxy/proxy bazel-bin/cli/lbctl)

# The packages owning every shared library the binaries load (usrmerge: /lib and /usr/lib are
# the same directory but dpkg knows each file under one of them).
mapfile -t libs < <(ldd "${bins[@]}" | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}' | sort -u)
# One dpkg query for all of them (each call reads the whole database), under both spellings.
queries=()
for lib in "${libs[@]}"; do queries+=("${lib#/usr}" "/usr${lib#/usr}"); done
owners=$(dpkg -S "${queries[@]}" 2>/dev/null || true)
declare -A pkgs=()
for lib in "${libs[@]}"; do
  owner=$(awk -v a="${lib#/usr}" -v b="/usr${lib#/usr}" -F': ' '$2 == a || $2 == b {print $1; exit}' <<<"$owners")
  if [ -z "$owner" ]; then
    echo "build.sh: no Debian package owns $lib" >&2
    exit 1
  fi
  pkgs[${owner%%:*}]=1
done
include=$(printf '%s\n' "${!pkgs[@]}" | sort | paste -sd, -)
echo "build.sh: runtime packages: $include" >&2

work=$(mktemp -d /tmp/lb-image.XXXXXX)
trap 'rm -rf "$work"' EXIT
rootfs=$work/rootfs
# extract: the packages and their hard dependencies are unpacked, nothing is configured, so no
# maintainer script, dpkg, apt or shell is needed (or left) in the image.
mmdebstrap --quiet --variant=extract --include="$include" \
  --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
  bookworm "$rootfs" \
  "deb $mirror bookworm main" "deb $mirror bookworm-updates main" \
  "deb $security bookworm-security main"
# What extraction leaves that a runtime image does not use.
rm -rf "$rootfs"/usr/share/doc "$rootfs"/usr/share/man "$rootfs"/usr/share/info \
  "$rootfs"/usr/share/lintian "$rootfs"/usr/share/locale "$rootfs"/var/cache/apt \
  "$rootfs"/var/lib/apt "$rootfs"/var/lib/dpkg "$rootfs"/var/log/* "$rootfs"/etc/apt \
  "$rootfs"/etc/dpkg "$rootfs"/etc/machine-id
for sh in bin/sh bin/bash bin/dash usr/bin/sh usr/bin/bash usr/bin/dash; do
  if [ -e "$rootfs/$sh" ]; then
    echo "build.sh: a shell ($sh) came in with the runtime packages" >&2
    exit 1
  fi
done
install -d -m 0755 "$rootfs/usr/local/bin" "$rootfs/etc" "$rootfs/tmp"
chmod 1777 "$rootfs/tmp"
install -m 0755 "${bins[@]}" "$rootfs/usr/local/bin/"
# Debug info off (symbols stay, for backtraces): about half of the binaries' size.
strip --strip-debug "$rootfs"/usr/local/bin/{controller,proxy,lbctl}
printf 'root:x:0:0:root:/root:/usr/sbin/nologin\nnonroot:x:65532:65532:nonroot:/var/lib/lb:/usr/sbin/nologin\n' \
  >"$rootfs/etc/passwd"
printf 'root:x:0:\nnonroot:x:65532:\n' >"$rootfs/etc/group"
printf 'hosts: files dns\n' >"$rootfs/etc/nsswitch.conf"
# The working directory: the controller's default --data_dir (lb-data) lands here.
install -d -m 0755 -o 65532 -g 65532 "$rootfs/var/lib/lb"
# Libraries the packages ship but no binary loads (gRPC's unsecure and plugin variants, protoc,
# glibc's iconv modules): the loaded set is what ldd lists, plus what glibc loads by itself.
# A file stays when it is (or a link resolves to) the real file of a library ldd named.
libdir=$rootfs/usr/lib/x86_64-linux-gnu
declare -A keep=()
while read -r lib; do
  keep[$(readlink -f "$libdir/$(basename "$lib")")]=1
done < <(ldd "${bins[@]}" | awk '$2 == "=>" {print $3}' | sort -u)
rm -rf "$libdir/gconv"
while read -r f; do
  case "$(basename "$f")" in ld-linux* | libc.so* | libnss_* | libresolv* | libgcc_s* | libm.so*) continue ;; esac
  [ -n "${keep[$(readlink -f "$f")]:-}" ] || rm -f "$f"
done < <(find "$libdir" -maxdepth 1 \( -name '*.so.*' -o -name '*.so' \))
# Every library the binaries need must resolve inside the root file system.
for b in controller proxy lbctl; do
  chroot "$rootfs" /usr/local/bin/$b --help >/dev/null 2>"$work/err" || true
  if grep -q 'error while loading shared libraries' "$work/err"; then
    cat "$work/err" >&2
    exit 1
  fi
done

layout=$work/layout
umoci init --layout "$layout"
umoci new --image "$layout:$tag"
umoci unpack --image "$layout:$tag" "$work/bundle"
rm -rf "$work/bundle/rootfs"
mv "$rootfs" "$work/bundle/rootfs"
umoci repack --image "$layout:$tag" "$work/bundle"
umoci config --image "$layout:$tag" \
  --config.user=65532:65532 --config.workingdir=/var/lib/lb \
  --config.cmd=/usr/local/bin/controller \
  --config.env=PATH=/usr/local/bin:/usr/bin:/bin \
  --config.exposedports=8080/tcp --config.exposedports=9091/tcp \
  --config.exposedports=18000/tcp --config.exposedports=9901/tcp \
  --config.label=org.opencontainers.image.title=lb \
  --config.label=org.opencontainers.image.source=deploy/image/build.sh \
  --architecture=amd64 --os=linux
umoci gc --layout "$layout"
# umoci's ref name is a bare tag; podman names an image loaded from an oci-archive after it, so
# give it the full name.
python3 - "$layout/index.json" "$name:$tag" <<'PY'
import json, sys
path, ref = sys.argv[1], sys.argv[2]
with open(path) as f:
    index = json.load(f)
for m in index["manifests"]:
    m.setdefault("annotations", {})["org.opencontainers.image.ref.name"] = ref
with open(path, "w") as f:
    json.dump(index, f)
PY
mkdir -p "$(dirname "$out")"
rm -f "$out"
tar -C "$layout" -cf "$out" .
echo "build.sh: wrote $out ($(du -h "$out" | cut -f1))" >&2
