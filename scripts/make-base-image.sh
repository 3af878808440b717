#!/bin/sh
# Make the base images deploy/Containerfile starts from, locally, for machines
# that cannot pull from an image registry (the test machines): a Debian
# bookworm root filesystem made with debootstrap from this machine's own
# Debian mirror, imported into podman under the names a registry would give:
#
#   docker.io/library/debian:bookworm        (minbase: apt, dpkg, coreutils)
#   docker.io/library/debian:bookworm-slim   (the same, docs/man/locales cut)
#
# so `podman build -f deploy/Containerfile .` builds unchanged. Users with a
# registry do not need this script.
#
# Local-test quirk, on purpose: the images carry this machine's apt sources
# (its mirror, which may be a proxy or snapshot of Debian's archive) and its
# apt.conf.d file for that mirror (here 99artifact-registry: a snapshot's
# Release files are past their Valid-Until date), so that apt-get inside
# `podman build` reaches the same packages the host does. The images are
# labelled org.weft.local-base=1 to tell them from registry ones.
#
# Idempotent: an image that exists already is left alone (FORCE=1 remakes
# both). Installs podman, runc and debootstrap from Debian when missing.
# Usage (root): scripts/make-base-image.sh
# Env: DEBIAN_MIRROR, DEBIAN_SECURITY_MIRROR (default: this machine's apt
#      sources), SUITE (bookworm), FORCE=1, WORKDIR (scratch space, /var/tmp)
set -eu

SUITE=${SUITE:-bookworm}
FULL=docker.io/library/debian:$SUITE
SLIM=docker.io/library/debian:$SUITE-slim
APT_EXTRA_CONF="/etc/apt/apt.conf.d/99artifact-registry"

say() { echo "make-base-image: $*"; }
die() { echo "make-base-image: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root (debootstrap and rootful podman)"

# --- tools, from Debian ------------------------------------------------------
need=""
for p in podman runc debootstrap; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
		need="$need $p"
done
if [ -n "$need" ]; then
	say "installing:$need"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $need >/dev/null
fi

if [ -z "${FORCE:-}" ] && podman image exists "$FULL" && podman image exists "$SLIM"; then
	say "$FULL and $SLIM exist already"
	exit 0
fi

# --- this machine's Debian mirror --------------------------------------------
# The first URI of the sources entry that lists SUITE (or SUITE-security), from
# deb822 .sources files or one-line .list files.
host_mirror() { # $1 = suite to look for
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		awk -v want="$1" '
			function flush() { if (hit && uri != "" && types ~ /(^| )deb( |$)/) { print uri; found = 1; exit } }
			/^[ \t]*$/ { flush(); hit = 0; uri = ""; types = ""; next }
			/^URIs:/ { uri = $2 }
			/^Types:/ { sub(/^Types:[ \t]*/, ""); types = $0 }
			/^Suites:/ { for (i = 2; i <= NF; i++) if ($i == want) hit = 1 }
			END { if (!found) flush() }' "$f"
	done
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[ -f "$f" ] || continue
		awk -v want="$1" '$1 == "deb" {
			i = 2; if ($2 ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
			if ($(i + 1) == want) print $i }' "$f"
	done
}
MIRROR=${DEBIAN_MIRROR:-$(host_mirror "$SUITE" | head -n1)}
SECURITY=${DEBIAN_SECURITY_MIRROR:-$(host_mirror "$SUITE-security" | head -n1)}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
SECURITY=${SECURITY:-http://deb.debian.org/debian-security}
say "mirror $MIRROR, security $SECURITY"

# --- the root filesystem -----------------------------------------------------
work=$(mktemp -d "${WORKDIR:-/var/tmp}/weft-base.XXXXXX")
# debootstrap mounts /proc and /sys (and in some containers binds /dev
# nodes) inside the target and unmounts them when it ends; should any be left
# behind, they are unmounted before the scratch tree is removed, and rm stays
# on this one file system.
cleanup() {
	awk -v w="$work/" 'index($2, w) == 1 { print $2 }' /proc/self/mounts |
		sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done
	rm -rf --one-file-system "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
root=$work/rootfs

t0=$(date +%s)
say "debootstrap --variant=minbase $SUITE (a minute or two)"
if ! nice debootstrap --variant=minbase --components=main \
	--keyring=/usr/share/keyrings/debian-archive-keyring.gpg \
	"$SUITE" "$root" "$MIRROR" >"$work/debootstrap.log" 2>&1; then
	tail -n 30 "$work/debootstrap.log" >&2
	[ -f "$root/debootstrap/debootstrap.log" ] && tail -n 30 "$root/debootstrap/debootstrap.log" >&2
	die "debootstrap failed"
fi

# apt sources as Debian's own images have them (deb822), on this mirror.
rm -f "$root/etc/apt/sources.list"
cat >"$root/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $MIRROR
Suites: $SUITE $SUITE-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $SECURITY
Suites: $SUITE-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
# The local-test quirk: this machine's apt settings for its mirror.
[ -f "$APT_EXTRA_CONF" ] && cp "$APT_EXTRA_CONF" "$root/etc/apt/apt.conf.d/"

# Container conventions: no services started by package scripts, apt keeps no
# .deb files or binary caches in layers, no translations, compressed lists.
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
chmod 755 "$root/usr/sbin/policy-rc.d"
cat >"$root/etc/apt/apt.conf.d/90container" <<'EOF'
// Image layers: drop downloaded packages after each dpkg run, keep no
// binary caches, fetch no translations, keep the lists compressed.
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
Acquire::Languages "none";
Acquire::GzipIndexes "true";
APT::AutoRemove::SuggestsImportant "false";
EOF
echo force-unsafe-io >"$root/etc/dpkg/dpkg.cfg.d/90container-unsafe-io"

# No host identity in the image.
: >"$root/etc/hostname"
: >"$root/etc/resolv.conf"
rm -f "$root/etc/machine-id" "$root/var/lib/dbus/machine-id"
: >"$root/etc/machine-id"
rm -rf "$root/var/lib/apt/lists/"* "$root/var/cache/apt/"*.bin \
	"$root/var/cache/apt/archives/"*.deb "$root/var/log/"*.log \
	"$root/var/log/apt/"* "$root/tmp/"* "$root/debootstrap"

import() { # $1 = rootfs, $2 = image name
	tar --numeric-owner --xattrs -C "$1" -c . |
		podman import --quiet \
			--change 'CMD ["bash"]' \
			--change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
			--change 'LABEL org.weft.local-base=1' \
			--message "weft scripts/make-base-image.sh: debootstrap $SUITE from $MIRROR" \
			- "$2" >/dev/null
	say "imported $2 ($(podman image inspect --format '{{.Size}}' "$2") bytes)"
}

if [ -n "${FORCE:-}" ] || ! podman image exists "$FULL"; then
	import "$root" "$FULL"
fi

# --- slim: the same, without documentation, manuals and locales --------------
# Later package installs skip them too (dpkg path-exclude), as in the slim
# images of a registry. Copyright files stay.
if [ -n "${FORCE:-}" ] || ! podman image exists "$SLIM"; then
	cat >"$root/etc/dpkg/dpkg.cfg.d/90container-slim" <<'EOF'
# slim image: no documentation, manuals, info pages or translations
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
EOF
	find "$root/usr/share/doc" -mindepth 1 -not -type d -not -name copyright -delete
	find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete
	for d in man groff info lintian linda locale; do
		rm -rf "${root:?}/usr/share/$d/"*
	done
	import "$root" "$SLIM"
fi
say "done in $(( $(date +%s) - t0 ))s"
