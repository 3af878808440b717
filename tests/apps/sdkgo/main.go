// sdkgo: a Go net/http service instrumented with the OpenTelemetry Go SDK,
// for weft's telemetry tests (tests/e2e/test_telemetry.py): it exports its spans over OTLP/HTTP
// (protobuf) every -every, and a counter metric over OTLP/HTTP on the same
// period, so a node running it has SDK exports next to its traffic.
//
//	sdkgo -addr 127.0.0.1:0 -otlp http://127.0.0.1:4318 -every 1s
//
// Per request: the W3C or B3 context of the request is extracted, a SERVER
// span is made (child of it, or a new trace), and /hello answers 200 "hello".
// Spans go out from a BatchSpanProcessor whose timeout is -every; at SIGTERM
// or SIGINT both providers are shut down (flushed) before the process exits.
// service.name is OTEL_SERVICE_NAME, else -name. Built with Go 1.26 only:
// the SDK needs a newer Go than 1.19.
//
// It prints "ready HOST:PORT" on stdout once listening.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"go.opentelemetry.io/contrib/propagators/b3"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.26.0"
	"go.opentelemetry.io/otel/trace"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen address")
	endpoint := flag.String("otlp", "http://127.0.0.1:4318", "OTLP/HTTP base URL")
	name := flag.String("name", "sdkgo", "service.name when OTEL_SERVICE_NAME is unset")
	every := flag.Duration("every", time.Second, "export period of spans and metrics")
	flag.Parse()
	if v := os.Getenv("OTEL_SERVICE_NAME"); v != "" {
		*name = v
	}
	ctx := context.Background()
	res := resource.NewWithAttributes(semconv.SchemaURL, semconv.ServiceName(*name))

	texp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(*endpoint+"/v1/traces"))
	if err != nil {
		log.Fatalf("sdkgo: trace exporter: %v", err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithResource(res),
		sdktrace.WithSampler(sdktrace.AlwaysSample()),
		sdktrace.WithBatcher(texp, sdktrace.WithBatchTimeout(*every)))
	mexp, err := otlpmetrichttp.New(ctx, otlpmetrichttp.WithEndpointURL(*endpoint+"/v1/metrics"))
	if err != nil {
		log.Fatalf("sdkgo: metric exporter: %v", err)
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithResource(res),
		sdkmetric.WithReader(sdkmetric.NewPeriodicReader(mexp, sdkmetric.WithInterval(*every))))
	otel.SetTracerProvider(tp)
	otel.SetMeterProvider(mp)
	prop := propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, b3.New())
	tracer := tp.Tracer("sdkgo")
	requests, err := mp.Meter("sdkgo").Int64Counter("sdkgo.requests")
	if err != nil {
		log.Fatalf("sdkgo: counter: %v", err)
	}

	h := func(w http.ResponseWriter, r *http.Request) {
		rctx := prop.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
		_, span := tracer.Start(rctx, r.Method+" "+r.URL.Path,
			trace.WithSpanKind(trace.SpanKindServer),
			trace.WithAttributes(attribute.String("url.path", r.URL.Path)))
		defer span.End()
		requests.Add(r.Context(), 1, metric.WithAttributes(attribute.String("path", r.URL.Path)))
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("X-Sdk-Trace-Id", span.SpanContext().TraceID().String())
		fmt.Fprint(w, "hello")
	}

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-sigs
		ln.Close()
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		tp.Shutdown(sctx)
		mp.Shutdown(sctx)
		os.Exit(0)
	}()
	out := bufio.NewWriter(os.Stdout)
	fmt.Fprintf(out, "ready %s\n", ln.Addr())
	out.Flush()
	log.Print(http.Serve(ln, http.HandlerFunc(h)))
	select {} // the signal goroutine flushes and exits the process
}
