#!/bin/sh
# Build weft if needed (installing its Debian build dependencies first) and
# run it with the given arguments. Default: print every HTTP exchange on
# this node as a span. Must run as root.
set -eu
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ]; then
	echo "weft: must run as root: try 'sudo $0 $*'" >&2
	exit 1
fi
scripts/install-deps.sh >&2
make -s >&2
exec build/weft "$@"
