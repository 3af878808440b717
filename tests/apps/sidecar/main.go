// sidecar: a service-mesh sidecar stand-in for weft's end-to-end tests. A
// reverse proxy (stdlib only; builds with Go 1.19 and newer) that, like an
// Envoy or Pipy sidecar, makes a span of its own for every request, points
// the B3 headers it forwards at that span, and reports the span to a Zipkin
// v2 collector (Jaeger's zipkin receiver).
//
//	sidecar -listen 127.0.0.1:15001 -upstream http://127.0.0.1:8080 \
//	        -name sidecar-a -zipkin http://127.0.0.1:9411/api/v2/spans
//
// Per request: the incoming x-b3-traceid / x-b3-spanid are the context (none:
// a new 128-bit trace); a new span id is made; the request goes upstream with
// x-b3-traceid unchanged, x-b3-spanid = the new span, x-b3-parentspanid = the
// incoming span id, x-b3-sampled = 1 (0 when the caller said 0). The span
// (kind SERVER, parentId = the incoming span id, localEndpoint.serviceName =
// -name, timestamps in µs) is queued once the response has been relayed; a
// reporter goroutine posts the queue as Zipkin v2 JSON every -flush (and on
// SIGTERM/SIGINT before exiting). With -report inline the handler itself
// posts its span right after relaying the response, as proxies and SDKs
// with a synchronous span processor do: the report is then made while the
// request is being handled, from the handler's goroutine. The response carries X-Sidecar-Trace-Id and
// X-Sidecar-Span-Id so that a test knows the ids.
//
// It prints "ready <addr>" on stdout once listening.
package main

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"
)

type endpoint struct {
	ServiceName string `json:"serviceName"`
}

type zspan struct {
	TraceID       string            `json:"traceId"`
	ID            string            `json:"id"`
	ParentID      string            `json:"parentId,omitempty"`
	Kind          string            `json:"kind"`
	Name          string            `json:"name"`
	Timestamp     int64             `json:"timestamp"`
	Duration      int64             `json:"duration"`
	LocalEndpoint endpoint          `json:"localEndpoint"`
	Tags          map[string]string `json:"tags,omitempty"`
}

var (
	mu      sync.Mutex
	pending []zspan
	// Requests to the collector: a client of its own, no trace headers.
	reportClient = &http.Client{Timeout: 5 * time.Second,
		Transport: &http.Transport{Proxy: nil}}
	upstreamTransport = &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 16}
)

// Hop-by-hop headers (RFC 9110 7.6.1) and the B3 headers the sidecar rewrites.
var dropped = map[string]bool{
	"Connection": true, "Keep-Alive": true, "Proxy-Connection": true, "Te": true,
	"Trailer": true, "Transfer-Encoding": true, "Upgrade": true,
	"X-B3-Traceid": true, "X-B3-Spanid": true, "X-B3-Parentspanid": true,
	"X-B3-Sampled": true, "X-B3-Flags": true, "B3": true,
}

func newID(n int) string {
	b := make([]byte, n)
	for {
		if _, err := rand.Read(b); err != nil {
			panic(err)
		}
		for _, c := range b {
			if c != 0 {
				return hex.EncodeToString(b)
			}
		}
	}
}

func validHex(s string, lens ...int) bool {
	ok := false
	for _, n := range lens {
		if len(s) == n {
			ok = true
		}
	}
	if !ok {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

func flush(zipkin string) {
	mu.Lock()
	batch := pending
	pending = nil
	mu.Unlock()
	report(zipkin, batch)
}

func report(zipkin string, batch []zspan) {
	if len(batch) == 0 {
		return
	}
	body, _ := json.Marshal(batch)
	resp, err := reportClient.Post(zipkin, "application/json", bytes.NewReader(body))
	if err != nil {
		log.Printf("sidecar: report: %v", err)
		return
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		log.Printf("sidecar: report: HTTP %d", resp.StatusCode)
	}
}

func main() {
	listen := flag.String("listen", "127.0.0.1:15001", "listen address")
	upstream := flag.String("upstream", "", "upstream base URL, e.g. http://127.0.0.1:8080")
	name := flag.String("name", "sidecar", "service name of the spans")
	zipkin := flag.String("zipkin", "http://127.0.0.1:9411/api/v2/spans", "Zipkin v2 span endpoint")
	every := flag.Duration("flush", 100*time.Millisecond, "report interval")
	mode := flag.String("report", "batch", "batch: a reporter goroutine posts every -flush; "+
		"inline: the handler posts its span after relaying the response")
	flag.Parse()
	if *mode != "batch" && *mode != "inline" {
		log.Fatalf("sidecar: -report %q: want batch or inline", *mode)
	}
	up, err := url.Parse(*upstream)
	if err != nil || up.Scheme != "http" || up.Host == "" {
		log.Fatalf("sidecar: -upstream %q: want http://host:port", *upstream)
	}

	h := func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		traceID := strings.ToLower(r.Header.Get("X-B3-Traceid"))
		inSpan := strings.ToLower(r.Header.Get("X-B3-Spanid"))
		if !validHex(traceID, 16, 32) || !validHex(inSpan, 16) {
			traceID, inSpan = newID(16), ""
		}
		sampled := r.Header.Get("X-B3-Sampled") != "0"
		spanID := newID(8)

		out, err := http.NewRequest(r.Method, up.Scheme+"://"+up.Host+r.URL.RequestURI(), r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		out.ContentLength = r.ContentLength
		for k, vs := range r.Header {
			if !dropped[http.CanonicalHeaderKey(k)] {
				out.Header[k] = vs
			}
		}
		out.Header.Set("X-B3-Traceid", traceID)
		out.Header.Set("X-B3-Spanid", spanID)
		if inSpan != "" {
			out.Header.Set("X-B3-Parentspanid", inSpan)
		}
		if sampled {
			out.Header.Set("X-B3-Sampled", "1")
		} else {
			out.Header.Set("X-B3-Sampled", "0")
		}
		code := 0
		resp, err := upstreamTransport.RoundTrip(out)
		if err != nil {
			code = http.StatusBadGateway
			http.Error(w, err.Error(), code)
		} else {
			for k, vs := range resp.Header {
				if !dropped[http.CanonicalHeaderKey(k)] {
					w.Header()[k] = vs
				}
			}
			w.Header().Set("X-Sidecar-Trace-Id", traceID)
			w.Header().Set("X-Sidecar-Span-Id", spanID)
			code = resp.StatusCode
			w.WriteHeader(code)
			io.Copy(w, resp.Body)
			resp.Body.Close()
		}
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
		}
		end := time.Now()
		if !sampled {
			return
		}
		sp := zspan{
			TraceID: traceID, ID: spanID, ParentID: inSpan, Kind: "SERVER",
			Name:      strings.ToLower(r.Method) + " " + r.URL.Path,
			Timestamp: start.UnixNano() / 1000,
			// from the monotonic clock: a wall-clock difference shrank
			// when the VM's clock was stepped mid-request (a parent that
			// ended before its children, once in a suite run)
			Duration:      end.Sub(start).Microseconds() + 1,
			LocalEndpoint: endpoint{ServiceName: *name},
			Tags: map[string]string{
				"http.method": r.Method, "http.path": r.URL.Path,
				"http.status_code": fmt.Sprint(code), "upstream": up.Host,
			},
		}
		if *mode == "inline" {
			report(*zipkin, []zspan{sp})
			return
		}
		mu.Lock()
		pending = append(pending, sp)
		mu.Unlock()
	}

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatal(err)
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		t := time.NewTicker(*every)
		for {
			select {
			case <-t.C:
				flush(*zipkin)
			case <-sigs:
				ln.Close()
				flush(*zipkin)
				os.Exit(0)
			}
		}
	}()
	out := bufio.NewWriter(os.Stdout)
	fmt.Fprintf(out, "ready %s\n", ln.Addr())
	out.Flush()
	srv := &http.Server{Handler: http.HandlerFunc(h)}
	log.Print(srv.Serve(ln))
	select {} // the reporter goroutine flushes and exits the process
}
