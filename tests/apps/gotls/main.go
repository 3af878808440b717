// gotls: an HTTPS / HTTP/2 server and client in one binary, playing a traced
// Go service in weft's end-to-end tests of crypto/tls and HTTP/2 (issue 13).
// Builds with Go 1.19 and newer; its one module is golang.org/x/net (h2c).
//
//	gotls serve -addr 127.0.0.1:0 -name svc -proto h2 -cert srv.pem -key srv.key -ca ca.pem
//	gotls get -proto h2 -ca ca.pem [-n N] [-H 'K: V']... https://127.0.0.1:PORT/hello
//
// -proto chooses the wire, on both sides, explicitly:
//
//	h1   HTTP/1.1 over TLS: ALPN offers only "http/1.1" and net/http's
//	     HTTP/2 is switched off (TLSNextProto set to an empty map)
//	h2   HTTP/2 over TLS, negotiated by ALPN ("h2"): net/http's own bundled
//	     HTTP/2 (what a Go service gets by default)
//	h2c  cleartext HTTP/2 with prior knowledge: golang.org/x/net/http2/h2c
//	     on the server, x/net's http2.Transport (AllowHTTP) in the client
//
// Server routes:
//
//	/hello            200 "hello"
//	/status/{code}    responds with that status code
//	/slow?ms=N        sleeps N ms, then 200 "slow"
//	/call?url=U       GET U with the service's own client (-out, default
//	                  -proto), copying NO header (weft must link the two
//	                  spans in-process), or with -propagate the incoming
//	                  B3 and W3C trace-context headers, as mesh apps do;
//	                  responds with the downstream status and body (502 on
//	                  a transport error)
//
// Every response carries X-Served-By (-name) and X-Proto (the request's
// protocol as net/http saw it: HTTP/1.1 or HTTP/2.0).
// The server prints "ready <addr>" on stdout once listening. The client
// prints one "status proto bytes local-port" line per request, over one
// connection kept alive, and exits 1 on a transport error or when the response came
// over another protocol than -proto asked for.
package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptrace"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/h2c"
)

func usage() {
	fmt.Fprintln(os.Stderr, "usage: gotls serve [-addr A] [-name N] [-proto h1|h2|h2c] [-cert F -key F] [-ca F] [-out P] [-propagate]\n"+
		"       gotls get [-proto h1|h2|h2c] [-ca F] [-n N] [-X METHOD] [-H 'K: V']... URL")
	os.Exit(2)
}

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	switch os.Args[1] {
	case "serve":
		serve(os.Args[2:])
	case "get":
		os.Exit(get(os.Args[2:]))
	default:
		usage()
	}
}

func checkProto(p string) {
	if p != "h1" && p != "h2" && p != "h2c" {
		fmt.Fprintf(os.Stderr, "gotls: -proto %q: one of h1, h2, h2c\n", p)
		os.Exit(2)
	}
}

// wantProto is what resp.Proto / r.Proto says for each -proto.
func wantProto(p string) string {
	if p == "h1" {
		return "HTTP/1.1"
	}
	return "HTTP/2.0"
}

func loadCA(file string) *x509.CertPool {
	if file == "" {
		return nil
	}
	pem, err := os.ReadFile(file)
	if err != nil {
		log.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		log.Fatalf("gotls: no certificate in %s", file)
	}
	return pool
}

// newClient is an HTTP client speaking proto, trusting the CA in caFile.
func newClient(proto, caFile string) *http.Client {
	tc := &tls.Config{RootCAs: loadCA(caFile)}
	switch proto {
	case "h1":
		tc.NextProtos = []string{"http/1.1"}
		return &http.Client{Transport: &http.Transport{
			TLSClientConfig:     tc,
			TLSNextProto:        map[string]func(string, *tls.Conn) http.RoundTripper{},
			MaxIdleConnsPerHost: 1, MaxConnsPerHost: 1,
		}}
	case "h2":
		// a custom TLSClientConfig turns net/http's HTTP/2 off unless forced
		return &http.Client{Transport: &http.Transport{
			TLSClientConfig:     tc,
			ForceAttemptHTTP2:   true,
			MaxIdleConnsPerHost: 1, MaxConnsPerHost: 1,
		}}
	default: // h2c: HTTP/2 over a plain TCP connection, no upgrade
		return &http.Client{Transport: &http2.Transport{
			AllowHTTP: true,
			DialTLSContext: func(ctx context.Context, network, addr string, _ *tls.Config) (net.Conn, error) {
				var d net.Dialer
				return d.DialContext(ctx, network, addr)
			},
		}}
	}
}

// contextHeaders are what -propagate copies.
var contextHeaders = []string{"X-B3-Traceid", "X-B3-Spanid", "X-B3-Parentspanid",
	"X-B3-Sampled", "X-B3-Flags", "B3", "Traceparent", "Tracestate"}

func serve(args []string) {
	fs := flag.NewFlagSet("serve", flag.ExitOnError)
	addr := fs.String("addr", "127.0.0.1:8443", "listen address")
	name := fs.String("name", "gotls", "service name, sent back in the X-Served-By header")
	proto := fs.String("proto", "h2", "h1 (HTTPS, HTTP/1.1 only), h2 (HTTPS, h2 by ALPN) or h2c (cleartext HTTP/2)")
	cert := fs.String("cert", "", "server certificate (PEM; h1 and h2)")
	key := fs.String("key", "", "server private key (PEM; h1 and h2)")
	ca := fs.String("ca", "", "CA the /call client trusts (PEM)")
	out := fs.String("out", "", "protocol of /call's client (default: -proto)")
	propagate := fs.Bool("propagate", false, "/call copies the incoming trace-context headers")
	fs.Parse(args)
	checkProto(*proto)
	if *out == "" {
		*out = *proto
	}
	checkProto(*out)
	client := newClient(*out, *ca)

	mux := http.NewServeMux()
	mux.HandleFunc("/hello", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "hello")
	})
	mux.HandleFunc("/status/", func(w http.ResponseWriter, r *http.Request) {
		code, err := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/status/"))
		if err != nil || code < 100 || code > 999 {
			http.Error(w, "bad status", http.StatusBadRequest)
			return
		}
		w.WriteHeader(code)
		fmt.Fprintf(w, "status %d\n", code)
	})
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		ms, _ := strconv.Atoi(r.URL.Query().Get("ms"))
		time.Sleep(time.Duration(ms) * time.Millisecond)
		io.WriteString(w, "slow")
	})
	mux.HandleFunc("/call", func(w http.ResponseWriter, r *http.Request) {
		url := r.URL.Query().Get("url")
		if url == "" {
			http.Error(w, "missing url", http.StatusBadRequest)
			return
		}
		// the request's context (its cancellation) but none of its headers
		req, err := http.NewRequestWithContext(r.Context(), "GET", url, nil)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if *propagate {
			for _, k := range contextHeaders {
				if v := r.Header.Get(k); v != "" {
					req.Header.Set(k, v)
				}
			}
		}
		resp, err := client.Do(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		w.WriteHeader(resp.StatusCode)
		w.Write(body)
	})
	var h http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Served-By", *name)
		w.Header().Set("X-Proto", r.Proto)
		mux.ServeHTTP(w, r)
	})

	srv := &http.Server{MaxHeaderBytes: 1 << 20}
	switch *proto {
	case "h1":
		srv.TLSConfig = &tls.Config{NextProtos: []string{"http/1.1"}}
		srv.TLSNextProto = map[string]func(*http.Server, *tls.Conn, http.Handler){}
	case "h2":
		// TLSNextProto left nil: ServeTLS adds net/http's bundled HTTP/2
		srv.TLSConfig = &tls.Config{NextProtos: []string{"h2", "http/1.1"}}
	case "h2c":
		h = h2c.NewHandler(h, &http2.Server{})
	}
	srv.Handler = h

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	stdout := bufio.NewWriter(os.Stdout)
	fmt.Fprintf(stdout, "ready %s\n", ln.Addr())
	stdout.Flush()
	if *proto == "h2c" {
		log.Fatal(srv.Serve(ln))
	}
	if *cert == "" || *key == "" {
		log.Fatal("gotls: -proto h1 and h2 need -cert and -key")
	}
	log.Fatal(srv.ServeTLS(ln, *cert, *key))
}

type headers []string

func (h *headers) String() string     { return strings.Join(*h, ", ") }
func (h *headers) Set(v string) error { *h = append(*h, v); return nil }

func get(args []string) int {
	fs := flag.NewFlagSet("get", flag.ExitOnError)
	n := fs.Int("n", 1, "number of requests (one connection)")
	method := fs.String("X", "GET", "method")
	proto := fs.String("proto", "h2", "h1, h2 or h2c (as for serve)")
	ca := fs.String("ca", "", "CA to trust (PEM)")
	var hdrs headers
	fs.Var(&hdrs, "H", "header 'Name: value' (repeatable)")
	fs.Parse(args)
	checkProto(*proto)
	if fs.NArg() != 1 {
		usage()
	}
	url := fs.Arg(0)
	client := newClient(*proto, *ca)
	for i := 0; i < *n; i++ {
		req, err := http.NewRequest(*method, url, nil)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		for _, h := range hdrs {
			k, v, ok := strings.Cut(h, ":")
			if !ok {
				fmt.Fprintln(os.Stderr, "bad header:", h)
				return 2
			}
			req.Header.Add(strings.TrimSpace(k), strings.TrimSpace(v))
		}
		lport := 0
		req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
			GotConn: func(ci httptrace.GotConnInfo) {
				if a, ok := ci.Conn.LocalAddr().(*net.TCPAddr); ok {
					lport = a.Port
				}
			}}))
		resp, err := client.Do(req)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		b, _ := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		fmt.Printf("%d %s %d %d\n", resp.StatusCode, resp.Proto, b, lport)
		if resp.Proto != wantProto(*proto) {
			fmt.Fprintf(os.Stderr, "gotls: asked for %s, the response came over %s\n", *proto, resp.Proto)
			return 1
		}
	}
	return 0
}
