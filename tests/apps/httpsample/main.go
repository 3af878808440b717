// httpsample: a stand-in for the mesh demo's application image
// (addozhang/http-sample, which cannot be pulled here). One image runs as
// service-a, service-b and service-c (deploy/demo/); what each one does comes
// from its environment, as in the demo:
//
//	upstream  a URL (e.g. http://service-b:8080/): every request is answered
//	          by calling it first, with the incoming trace headers copied
//	          onto the outgoing request (x-b3-* and traceparent/tracestate),
//	          as the demo's apps do, and the answer includes its body;
//	          unset: the request is answered at once.
//	PORT      the listen port (default 8080).
//
// The answer says who answered: "HOSTNAME" (the pod's name), followed by
// " -> " and the upstream's answer when there is one. An upstream that fails
// gives 502. No third-party modules; static (CGO_ENABLED=0), not stripped:
// weft finds net/http's functions in the symbol table for its Go uprobes.
package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

var client = &http.Client{Timeout: 10 * time.Second}

// propagate copies the trace context a mesh sidecar or a caller put on the
// incoming request: every x-b3-* header (multi-header B3), b3 (single
// header) and W3C traceparent/tracestate.
func propagate(dst, src http.Header) {
	for k, vs := range src {
		lk := strings.ToLower(k)
		if strings.HasPrefix(lk, "x-b3-") || lk == "b3" || lk == "traceparent" || lk == "tracestate" {
			for _, v := range vs {
				dst.Add(k, v)
			}
		}
	}
}

func main() {
	host, _ := os.Hostname()
	upstream := os.Getenv("upstream")
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}

	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		if upstream == "" {
			fmt.Fprintf(w, "%s\n", host)
			return
		}
		req, err := http.NewRequestWithContext(r.Context(), "GET", upstream, nil)
		if err != nil {
			http.Error(w, fmt.Sprintf("%s -> %s: %v", host, upstream, err), http.StatusBadGateway)
			return
		}
		propagate(req.Header, r.Header)
		resp, err := client.Do(req)
		if err != nil {
			http.Error(w, fmt.Sprintf("%s -> %s: %v", host, upstream, err), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil || resp.StatusCode >= 400 {
			w.WriteHeader(http.StatusBadGateway)
		}
		fmt.Fprintf(w, "%s -> %s", host, body)
	})

	srv := &http.Server{Addr: ":" + port, Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	// PID 1 in its container: SIGTERM is ignored unless handled.
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-stop
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	}()
	log.Printf("httpsample %s listening on :%s, upstream %q", host, port, upstream)
	if err := srv.ListenAndServe(); err != nil && err != http.ErrServerClosed {
		log.Fatal(err)
	}
}
