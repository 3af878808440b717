#!/bin/sh
# Build the Go test apps with both toolchains:
#   build/apps/go1.19/NAME  (Debian's golang-1.19-go)
#   build/apps/go1.26/NAME  (the machine's Go, /usr/local/go)
# sdkgo (the OpenTelemetry Go SDK, which needs a newer Go than 1.19) is
# built with Go 1.26 only; its modules come from the Go module proxy.
# gotls and gogrpc (issue 13: crypto/tls, HTTP/2, gRPC) are built in four
# variants per toolchain, as users' binaries come: NAME (plain), NAME-stripped
# (-ldflags='-s -w': no .symtab, no DWARF), NAME-pie (-buildmode=pie) and
# NAME-cgo (CGO_ENABLED=1: dynamically linked, needs gcc).
# goh2 (cleartext HTTP/2 server and multiplexing client, tests/e2e/test_h2c.py)
# is built plain with both toolchains.
# Idempotent: go's build cache makes reruns cheap. Usage: tests/apps/build.sh
# Env: GO119, GO126 (toolchain paths), APPS_OUT (default build/apps),
#      APPS_VARIANTS (default "plain stripped pie cgo").
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
GO119=${GO119:-/usr/lib/go-1.19/bin/go}
GO126=${GO126:-/usr/local/go/bin/go}
out=${APPS_OUT:-$root/build/apps}
apps="goserver goclient sidecar goh2"
apps_new="sdkgo"	# Go 1.26 only
apps_variants="gotls gogrpc"	# each in every APPS_VARIANTS
variants=${APPS_VARIANTS:-plain stripped pie cgo}

export GOFLAGS=-mod=mod GOTOOLCHAIN=local GOWORK=off CGO_ENABLED=0
export GOPATH=${GOPATH:-$root/build/gopath}
export GOCACHE=${GOCACHE:-$root/build/gocache}
mkdir -p "$GOCACHE" "$GOPATH"

status=0
for tc in "go1.19:$GO119" "go1.26:$GO126"; do
	tag=${tc%%:*} go=${tc#*:}
	if [ ! -x "$go" ]; then
		echo "build.sh: $tag toolchain $go missing" >&2
		status=1
		continue
	fi
	have=$("$go" env GOVERSION)
	case "$have" in
	"$tag"|"$tag".*) ;;
	*) echo "build.sh: $go is $have, not $tag" >&2; status=1; continue ;;
	esac
	mkdir -p "$out/$tag"
	these=$apps
	[ "$tag" = go1.26 ] && these="$these $apps_new"
	for app in $these; do
		(cd "tests/apps/$app" && "$go" build -o "$out/$tag/$app" .) ||
			{ echo "build.sh: $app with $tag failed" >&2; status=1; continue; }
		echo "  GO       $out/$tag/$app ($have)"
	done
	for app in $apps_variants; do
		for v in $variants; do
			case $v in
			plain) bin=$app; set -- ;;
			stripped) bin=$app-stripped; set -- -ldflags='-s -w' ;;
			pie) bin=$app-pie; set -- -buildmode=pie ;;
			cgo) bin=$app-cgo; set -- ;;
			*) echo "build.sh: unknown variant $v" >&2; status=1; continue ;;
			esac
			cgo=0
			[ "$v" = cgo ] && cgo=1
			(cd "tests/apps/$app" && CGO_ENABLED=$cgo "$go" build "$@" -o "$out/$tag/$bin" .) ||
				{ echo "build.sh: $bin with $tag failed" >&2; status=1; continue; }
			echo "  GO       $out/$tag/$bin ($have)"
		done
	done
done

# Stripped and PIE variants (issue 13: functions from .gopclntab), both
# toolchains, into build/apps/goX.Y/:
#   goserver-stripped, goserver-pie-stripped   (tests/e2e/test_go_stripped.py)
#   gofuncs-cgoC-MODE[-stripped], C in 0 1, MODE in exe pie
#                                   (tests/unit/test_gopclntab.c compares each
#                                    stripped binary with its unstripped twin)
# gofuncs has C code of its own with CGO on, so that link is external.
for tc in "go1.19:$GO119" "go1.26:$GO126"; do
	tag=${tc%%:*} go=${tc#*:}
	[ -x "$go" ] || continue	# said above
	v() {	# v NAME APP CGO MODE LDFLAGS
		(cd "tests/apps/$2" && CGO_ENABLED=$3 "$go" build -buildmode="$4" \
			-ldflags="$5" -o "$out/$tag/$1" .) ||
			{ echo "build.sh: $1 with $tag failed" >&2; status=1; return; }
		echo "  GO       $out/$tag/$1"
	}
	v goserver-stripped goserver 0 exe "-s -w"
	v goserver-pie-stripped goserver 0 pie "-s -w"
	for cgo in 0 1; do
		for mode in exe pie; do
			v "gofuncs-cgo$cgo-$mode" gofuncs $cgo $mode ""
			v "gofuncs-cgo$cgo-$mode-stripped" gofuncs $cgo $mode "-s -w"
		done
	done
done
exit $status
