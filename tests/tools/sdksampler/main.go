// sdksampler prints the OpenTelemetry Go SDK's sampling decisions, so that
// weft's sampler (user/sampler.c) can be checked against them.
//
// Every decision comes from the SDK itself, configured the way a service
// is: OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG set in the
// environment, a TracerProvider made from them, a span started (as a root,
// or under a remote parent that is sampled or not), and the span's sampled
// flag read back. The trace id of a root comes from an IDGenerator that
// hands out the id under test.
//
//	sdksampler > tests/unit/data/sampler-vectors.txt     (the vector file)
//	sdksampler -ids -sampler NAME [-arg X] [-parent P] < IDS
//	    one "ID 0|1" line per 32-hex-digit trace id read
package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/hex"
	"flag"
	"fmt"
	"log"
	"os"
	"runtime/debug"
	"strings"

	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

const unset = "-"

// fixedIDs gives every new trace the id under test.
type fixedIDs struct{ tid trace.TraceID }

func (f *fixedIDs) NewIDs(context.Context) (trace.TraceID, trace.SpanID) {
	return f.tid, trace.SpanID{0, 0, 0, 0, 0, 0, 0, 1}
}

func (f *fixedIDs) NewSpanID(context.Context, trace.TraceID) trace.SpanID {
	return trace.SpanID{0, 0, 0, 0, 0, 0, 0, 2}
}

// sdk is one TracerProvider configured from the environment.
type sdk struct {
	ids    *fixedIDs
	tracer trace.Tracer
}

func setenv(k, v string) {
	if v == unset {
		os.Unsetenv(k)
	} else {
		os.Setenv(k, v)
	}
}

func newSDK(name, arg string) *sdk {
	setenv("OTEL_TRACES_SAMPLER", name)
	setenv("OTEL_TRACES_SAMPLER_ARG", arg)
	ids := &fixedIDs{}
	tp := sdktrace.NewTracerProvider(sdktrace.WithIDGenerator(ids))
	return &sdk{ids: ids, tracer: tp.Tracer("sdksampler")}
}

// sampled: the SDK's decision for a span of trace tid whose parent is
// "none" (a root), "sampled" or "notsampled" (remote parents).
func (s *sdk) sampled(tid trace.TraceID, parent string) bool {
	ctx := context.Background()
	s.ids.tid = tid
	if parent != "none" {
		var flags trace.TraceFlags
		if parent == "sampled" {
			flags = trace.FlagsSampled
		}
		ctx = trace.ContextWithRemoteSpanContext(ctx, trace.NewSpanContext(trace.SpanContextConfig{
			TraceID: tid, SpanID: trace.SpanID{0, 0, 0, 0, 0, 0, 0, 3},
			TraceFlags: flags, Remote: true,
		}))
	}
	_, span := s.tracer.Start(ctx, "x")
	defer span.End()
	return span.SpanContext().IsSampled()
}

func sdkVersion() string {
	bi, ok := debug.ReadBuildInfo()
	if ok {
		for _, d := range bi.Deps {
			if d.Path == "go.opentelemetry.io/otel/sdk" {
				return d.Path + " " + d.Version
			}
		}
	}
	return "go.opentelemetry.io/otel/sdk (version unknown)"
}

// splitmix64: a fixed sequence of "random" ids, the same on every run.
type splitmix uint64

func (s *splitmix) next() uint64 {
	*s += 0x9e3779b97f4a7c15
	z := uint64(*s)
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

func tid(hi, lo uint64) trace.TraceID {
	var t trace.TraceID
	binary.BigEndian.PutUint64(t[:8], hi)
	binary.BigEndian.PutUint64(t[8:], lo)
	return t
}

// The ratios the core vectors use, and the args the parsing vectors use.
var ratios = []string{"0", "1", "0.5", "0.25", "1e-9", "0.1", "0.75"}
var oddArgs = []string{unset, " ", "abc", "-0.1", "1.5", " 0.5 ", "\t0.25\n", "0x1p-2",
	"0X1.8P-2", "0x1", "inf", "-Inf", "5e-1", "1e-400", "1e400", "+.5", "5.", "0.5x",
	"1_0", "0.5 0.5", "-0", "1.0000000000000001", "0.99999999999999999"}

// traceIDs: the edges of the test (low half 0, 1, 2^63-1, 2^63, all ones;
// 64-bit ids left-padded; the ids on each side of every ratio's bound)
// and a fixed pseudo-random set.
func traceIDs() []trace.TraceID {
	const hi = 0x0123456789abcdef
	lows := []uint64{0, 1, 2, 3, 0x7fffffffffffffff, 0x8000000000000000, 0x8000000000000001,
		0xfffffffffffffffe, 0xffffffffffffffff, 0x3fffffffffffffff, 0x4000000000000000,
		0x00000000ffffffff}
	ids := []trace.TraceID{}
	for _, lo := range lows {
		ids = append(ids, tid(hi, lo))
	}
	// a 64-bit B3 id, left-padded; an id whose low half is all zero
	ids = append(ids, tid(0, 0x463ac35c9f6413ad), tid(0, 0xffffffffffffffff),
		tid(0x4bf92f3577b34da6, 0), tid(0xffffffffffffffff, 0x1))
	// either side of each ratio's bound (the SDK's own arithmetic picks them)
	for _, r := range ratios {
		var f float64
		fmt.Sscan(r, &f)
		if f <= 0 || f >= 1 {
			continue
		}
		b := uint64(f * (1 << 63))
		for _, lo := range []uint64{2*b - 2, 2*b - 1, 2 * b, 2*b + 1} {
			ids = append(ids, tid(hi, lo))
		}
	}
	sm := splitmix(0x5eed)
	for i := 0; i < 24; i++ {
		ids = append(ids, tid(sm.next(), sm.next()))
	}
	return ids
}

// enc: a name or arg as one token ("-" = unset; other bytes than
// [A-Za-z0-9._+-] as %XX).
func enc(s string) string {
	if s == unset {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '.' || c == '_' || c == '+' || (c == '-' && len(s) > 1) {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

func vectors() {
	ids := traceIDs()
	w := bufio.NewWriter(os.Stdout)
	defer w.Flush()
	fmt.Fprintf(w, "# Sampling decisions of %s, for tests/unit/test_sampler.c.\n", sdkVersion())
	fmt.Fprintf(w, "# Generated by tests/tools/sdksampler (go run . > this file); do not edit.\n")
	fmt.Fprintf(w, "# tests/e2e/test_sampler_sdk.py regenerates it and compares.\n")
	fmt.Fprintf(w, "# id INDEX TRACE_ID: the trace ids, in order\n")
	fmt.Fprintf(w, "# OTEL_TRACES_SAMPLER OTEL_TRACES_SAMPLER_ARG PARENT DECISIONS:\n")
	fmt.Fprintf(w, "#   '-' = unset, %%XX = that byte; PARENT none (a root), sampled or\n")
	fmt.Fprintf(w, "#   notsampled (a remote parent); DECISIONS one digit per id, 1 = sampled\n")
	for i, t := range ids {
		fmt.Fprintf(w, "id %d %s\n", i, hex.EncodeToString(t[:]))
	}
	line := func(name, arg string, parents ...string) {
		s := newSDK(name, arg)
		for _, p := range parents {
			var d strings.Builder
			for _, t := range ids {
				if s.sampled(t, p) {
					d.WriteByte('1')
				} else {
					d.WriteByte('0')
				}
			}
			fmt.Fprintf(w, "%s %s %s %s\n", enc(name), enc(arg), p, d.String())
		}
	}
	all := []string{"none", "sampled", "notsampled"}
	for _, name := range []string{"traceidratio", "parentbased_traceidratio"} {
		for _, r := range ratios {
			line(name, r, all...)
		}
		for _, a := range oddArgs {
			line(name, a, "none")
		}
	}
	for _, name := range []string{"always_on", "always_off", "parentbased_always_on",
		"parentbased_always_off"} {
		line(name, unset, all...)
		line(name, "0.5", "none") // an arg they do not take
	}
	// names: unset, blank, case and blanks, unknown ones (the default)
	for _, name := range []string{unset, " ", "AlWaYs_OfF", " traceidratio ",
		"PARENTBASED_TRACEIDRATIO", "foo", "jaeger_remote", "parentbased_jaeger_remote",
		"xray", "always-on"} {
		line(name, "0.25", all...)
	}
}

func main() {
	idsMode := flag.Bool("ids", false, "decide for the trace ids read from stdin")
	name := flag.String("sampler", unset, "OTEL_TRACES_SAMPLER ('-' = unset)")
	arg := flag.String("arg", unset, "OTEL_TRACES_SAMPLER_ARG ('-' = unset)")
	parent := flag.String("parent", "none", "none, sampled or notsampled")
	flag.Parse()
	// the SDK reports bad variables through otel.Handle: not on our stdout
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(error) {}))
	if !*idsMode {
		vectors()
		return
	}
	s := newSDK(*name, *arg)
	in := bufio.NewScanner(os.Stdin)
	w := bufio.NewWriter(os.Stdout)
	defer w.Flush()
	for in.Scan() {
		f := strings.TrimSpace(in.Text())
		if f == "" {
			continue
		}
		b, err := hex.DecodeString(f)
		if err != nil || len(b) != 16 {
			log.Fatalf("sdksampler: %q is not a 32-hex-digit trace id", f)
		}
		var t trace.TraceID
		copy(t[:], b)
		d := 0
		if s.sampled(t, *parent) {
			d = 1
		}
		fmt.Fprintf(w, "%s %d\n", f, d)
	}
}
