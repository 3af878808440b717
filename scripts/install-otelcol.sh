#!/bin/sh
# Build and install a minimal OpenTelemetry Collector distribution from its Go
# modules, for weft's collector-pipeline test (tests/e2e/test_collector_pipeline.py)
# and for trying deploy/examples/otelcol-config.yaml locally. Idempotent: does
# nothing when the binary at $OTELCOL_BIN was built from this script's pins
# and component list.
#
# Components, and nothing else (the seed's pipeline: the mesh sidecars' Zipkin
# and weft's OTLP in, OTLP out to Jaeger):
#   receivers   otlp (core receiver/otlpreceiver), zipkin (contrib receiver/zipkinreceiver)
#   processors  batch
#   exporters   otlp_grpc (alias otlp), otlp_http (alias otlphttp), debug
#   providers   env, file (`--config FILE`, `${env:VAR:-default}` in it)
#
# Version pins: one release of the collector, as its modules must be. The
# core's unstable modules are v0.165.0, its stable (v1.x) modules of the same
# release v1.71.0, and the contrib release that goes with it is v0.165.1
# (contrib's patch release on the same core). Checked with
#   go list -m -versions go.opentelemetry.io/collector/otelcol      (newest v0.165.0)
#   go list -m -versions go.opentelemetry.io/collector/component    (newest v1.71.0)
# and the Go module list of this workplace (v0.165.0 goes with v1.71.0 and
# with contrib v0.165.1). To bump: take a core release, its v1.x twin and the
# contrib release built on it, change the three pins; the build refuses a
# build list that mixes releases (see below).
#
# Why a hand-written main.go and not the collector's builder (ocb, cmd/builder):
# ocb would be one more Go program to fetch and build, and what it generates
# for five factories is the same ~50 lines as below. The files are written into
# the build directory from this script; `go mod tidy` completes go.mod from the
# pinned direct requirements (minimal version selection: the same build list
# every time, checked against the checksum database).
#
# Measured on this project's 2 shared cores (nice, go1.26.8): from an empty
# module cache and an empty build cache 153 s (2m33s, 40 MB binary); 85 s with
# the modules downloaded and Jaeger's build in the build cache; the cached
# check takes 0.03 s. The binary is cached at a fixed path, so later runs
# return at once.
#
# Usage: scripts/install-otelcol.sh        (env: OTELCOL_BIN, GO)
set -eu

OTELCOL_CORE=v0.165.0		# go.opentelemetry.io/collector/* (unstable modules)
OTELCOL_STABLE=v1.71.0		# go.opentelemetry.io/collector/* (v1.x modules), same release
OTELCOL_CONTRIB=v0.165.1	# github.com/open-telemetry/opentelemetry-collector-contrib/*
OTELCOL_BIN=${OTELCOL_BIN:-/opt/weft-test/bin/otelcol}

if [ -z "${GO:-}" ]; then
	if [ -x /usr/local/go/bin/go ]; then GO=/usr/local/go/bin/go
	else GO=$(command -v go || true); fi
fi
[ -n "$GO" ] || { echo "install-otelcol: no Go toolchain found (set GO=)" >&2; exit 1; }

core=go.opentelemetry.io/collector
contrib=github.com/open-telemetry/opentelemetry-collector-contrib

# The distribution's source: go.mod (direct requirements only) and main.go.
write_source() {
	cat >"$1/go.mod" <<EOF
module weft.test/otelcol

go 1.26

require (
	$core/component $OTELCOL_STABLE
	$core/confmap $OTELCOL_STABLE
	$core/confmap/provider/envprovider $OTELCOL_STABLE
	$core/confmap/provider/fileprovider $OTELCOL_STABLE
	$core/exporter $OTELCOL_STABLE
	$core/processor $OTELCOL_STABLE
	$core/receiver $OTELCOL_STABLE
	$core/otelcol $OTELCOL_CORE
	$core/service $OTELCOL_CORE
	$core/receiver/otlpreceiver $OTELCOL_CORE
	$core/processor/batchprocessor $OTELCOL_CORE
	$core/exporter/otlpexporter $OTELCOL_CORE
	$core/exporter/otlphttpexporter $OTELCOL_CORE
	$core/exporter/debugexporter $OTELCOL_CORE
	$contrib/receiver/zipkinreceiver $OTELCOL_CONTRIB
)
EOF
	cat >"$1/main.go" <<EOF
// otelcol: the OpenTelemetry Collector with the components of weft's
// collector pipeline only (written by scripts/install-otelcol.sh).
package main

import (
	"fmt"
	"os"

	"github.com/open-telemetry/opentelemetry-collector-contrib/receiver/zipkinreceiver"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/provider/envprovider"
	"go.opentelemetry.io/collector/confmap/provider/fileprovider"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/exporter/debugexporter"
	"go.opentelemetry.io/collector/exporter/otlpexporter"
	"go.opentelemetry.io/collector/exporter/otlphttpexporter"
	"go.opentelemetry.io/collector/otelcol"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/batchprocessor"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/receiver/otlpreceiver"
	"go.opentelemetry.io/collector/service/telemetry/otelconftelemetry"
)

// Set at link time: the release and a checksum of this source, read back by
// the install script through --version.
var version = "unknown"

func factories() (otelcol.Factories, error) {
	var f otelcol.Factories
	var err error
	if f.Receivers, err = otelcol.MakeFactoryMap[receiver.Factory](
		otlpreceiver.NewFactory(), zipkinreceiver.NewFactory()); err != nil {
		return f, err
	}
	if f.Processors, err = otelcol.MakeFactoryMap[processor.Factory](
		batchprocessor.NewFactory()); err != nil {
		return f, err
	}
	if f.Exporters, err = otelcol.MakeFactoryMap[exporter.Factory](
		otlpexporter.NewFactory(), otlphttpexporter.NewFactory(),
		debugexporter.NewFactory()); err != nil {
		return f, err
	}
	f.Telemetry = otelconftelemetry.NewFactory()
	// what \`otelcol components\` prints
	f.ReceiverModules = map[component.Type]string{
		otlpreceiver.NewFactory().Type():   "$core/receiver/otlpreceiver $OTELCOL_CORE",
		zipkinreceiver.NewFactory().Type(): "$contrib/receiver/zipkinreceiver $OTELCOL_CONTRIB",
	}
	f.ProcessorModules = map[component.Type]string{
		batchprocessor.NewFactory().Type(): "$core/processor/batchprocessor $OTELCOL_CORE",
	}
	f.ExporterModules = map[component.Type]string{
		otlpexporter.NewFactory().Type():     "$core/exporter/otlpexporter $OTELCOL_CORE",
		otlphttpexporter.NewFactory().Type(): "$core/exporter/otlphttpexporter $OTELCOL_CORE",
		debugexporter.NewFactory().Type():    "$core/exporter/debugexporter $OTELCOL_CORE",
	}
	return f, nil
}

func main() {
	set := otelcol.CollectorSettings{
		BuildInfo: component.BuildInfo{
			Command:     "otelcol",
			Description: "OpenTelemetry Collector for weft's tests (otlp, zipkin -> otlp)",
			Version:     version,
		},
		Factories: factories,
		ConfigProviderSettings: otelcol.ConfigProviderSettings{
			ResolverSettings: confmap.ResolverSettings{
				ProviderFactories: []confmap.ProviderFactory{
					envprovider.NewFactory(), fileprovider.NewFactory(),
				},
				DefaultScheme: "env",
			},
		},
	}
	if err := otelcol.NewCommand(set).Execute(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
EOF
}

# The version stamped into the binary: the pins and a checksum of the source
# above, so that a change to the component list rebuilds too.
src=$(mktemp -d)
trap 'rm -rf "$src"' EXIT INT TERM
write_source "$src"
sum=$(cat "$src/go.mod" "$src/main.go" | cksum | cut -d' ' -f1)
stamp="$OTELCOL_CORE+contrib.$OTELCOL_CONTRIB+src.$sum"

have_version() {
	[ -x "$OTELCOL_BIN" ] && [ "$("$OTELCOL_BIN" --version 2>/dev/null)" = "otelcol version $stamp" ]
}

if have_version; then
	echo "install-otelcol: $OTELCOL_BIN is $stamp already"
	exit 0
fi

bindir=$(dirname "$OTELCOL_BIN")
mkdir -p "$bindir"
tmp=$(mktemp -d "$bindir/.otelcol-build.XXXXXX")
trap 'rm -rf "$src" "$tmp"' EXIT INT TERM
mv "$src/go.mod" "$src/main.go" "$tmp/"

echo "install-otelcol: building collector $OTELCOL_CORE/$OTELCOL_STABLE, contrib $OTELCOL_CONTRIB with $("$GO" version) (slow the first time)"
start=$(date +%s)
export GOTOOLCHAIN=local GOFLAGS=-mod=mod GOWORK=off CGO_ENABLED=0
cd "$tmp"
# go's own output only when it fails
if ! nice "$GO" mod tidy >"$tmp/tidy.log" 2>&1; then
	cat "$tmp/tidy.log" >&2
	echo "install-otelcol: go mod tidy failed" >&2
	exit 1
fi
# One release only: every collector module in the build list at the pins.
mixed=$("$GO" list -m -f '{{.Path}} {{.Version}}' all | awk -v c="$OTELCOL_CORE" \
	-v s="$OTELCOL_STABLE" -v x="$OTELCOL_CONTRIB" '
	$1 ~ /^go\.opentelemetry\.io\/collector(\/|$)/ && $2 != c && $2 != s { print }
	$1 ~ /^github\.com\/open-telemetry\/opentelemetry-collector-contrib\// && $2 != x { print }')
if [ -n "$mixed" ]; then
	echo "install-otelcol: the build list mixes collector releases:" >&2
	echo "$mixed" >&2
	exit 1
fi
nice "$GO" build -trimpath -o "$tmp/otelcol" -ldflags "-s -w -X main.version=$stamp" .
mv -f "$tmp/otelcol" "$OTELCOL_BIN"
echo "install-otelcol: installed $OTELCOL_BIN in $(( $(date +%s) - start ))s"
have_version || { echo "install-otelcol: $OTELCOL_BIN does not report $stamp" >&2; exit 1; }
