// goh2: a cleartext HTTP/2 server (prior knowledge: every connection is
// HTTP/2 from its first byte, no HTTP/1 in front) and a client that runs
// many requests at once over ONE connection, for weft's end-to-end test of
// its HTTP/2 framing (tests/e2e/test_h2c.py, issue 13): interleaved
// streams, DATA larger than weft copies, per-stream trace context.
// Builds with Go 1.19 and newer; its one module is golang.org/x/net.
//
//	goh2 serve -addr 127.0.0.1:0
//	goh2 load [-c 8] [-n 40] [-body BYTES] [-ms MS] [-ctx none|b3|traceparent|alt] [-trace HEX16] [-warm N] URL
//
// Server: /echo?i=N&ms=M reads the request body, sleeps M ms, answers 200
// with a body of the same length and X-Len; /status/{code} answers code.
// It prints "ready <addr>" on stdout once listening.
//
// load sends -n requests, -c at a time, to URL?i=I&ms=MS (POST with -body
// bytes when -body > 0, else GET) over a single connection. Request I
// (0-based) carries, by -ctx: trace id -trace followed by I+1 as 16 hex
// digits, span id "a" followed by I+1 as 15 hex digits; "alt"
// sends b3 on even I and traceparent on odd. It prints "I STATUS
// LOCAL-PORT" per request and exits 1 on any error or when the requests
// did not all share one connection.
//
// -warm N first sends N requests one at a time (I = 1000 and up, the same
// context kind, their lines on stderr), prints "goh2: warm" on stderr and
// waits for a line on stdin before the -n requests: the connection and its
// HPACK tables exist before whatever the test starts meanwhile (weft,
// following a connection from the middle).
package main

import (
	"bufio"
	"context"
	"crypto/tls"
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
	"sync"
	"time"

	"golang.org/x/net/http2"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	switch os.Args[1] {
	case "serve":
		serve(os.Args[2:])
	case "load":
		os.Exit(load(os.Args[2:]))
	default:
		usage()
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: goh2 serve [-addr A]\n"+
		"       goh2 load [-c N] [-n N] [-body BYTES] [-ms MS] [-ctx none|b3|traceparent|alt] [-trace HEX16] [-warm N] URL")
	os.Exit(2)
}

func handler(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/status/") {
		code, err := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/status/"))
		if err != nil || code < 100 || code > 999 {
			code = 400
		}
		w.WriteHeader(code)
		return
	}
	n, _ := io.Copy(io.Discard, r.Body)
	if ms, err := strconv.Atoi(r.URL.Query().Get("ms")); err == nil && ms > 0 {
		time.Sleep(time.Duration(ms) * time.Millisecond)
	}
	w.Header().Set("X-Len", strconv.FormatInt(n, 10))
	w.Header().Set("Content-Type", "application/octet-stream")
	w.WriteHeader(200)
	buf := make([]byte, 32*1024)
	for left := n; left > 0; {
		k := int64(len(buf))
		if left < k {
			k = left
		}
		if _, err := w.Write(buf[:k]); err != nil {
			return
		}
		left -= k
	}
}

func serve(args []string) {
	fs := flag.NewFlagSet("serve", flag.ExitOnError)
	addr := fs.String("addr", "127.0.0.1:0", "listen address")
	fs.Parse(args)
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("ready %s\n", ln.Addr())
	os.Stdout.Sync()
	srv := &http2.Server{}
	h := http.HandlerFunc(handler)
	for {
		c, err := ln.Accept()
		if err != nil {
			log.Fatal(err)
		}
		go srv.ServeConn(c, &http2.ServeConnOpts{Handler: h})
	}
}

func load(args []string) int {
	fs := flag.NewFlagSet("load", flag.ExitOnError)
	conc := fs.Int("c", 8, "requests at once")
	n := fs.Int("n", 40, "requests")
	body := fs.Int("body", 0, "request body bytes (POST)")
	ms := fs.Int("ms", 0, "server delay per request, ms")
	ctxFmt := fs.String("ctx", "none", "none, b3, traceparent or alt")
	trace := fs.String("trace", "4bf92f3577b34da6", "first 16 hex digits of every trace id")
	warm := fs.Int("warm", 0, "requests sent first, one at a time, then wait for a line on stdin")
	fs.Parse(args)
	if fs.NArg() != 1 || len(*trace) != 16 {
		usage()
	}
	base := fs.Arg(0)
	tr := &http2.Transport{
		AllowHTTP: true,
		DialTLS: func(network, addr string, _ *tls.Config) (net.Conn, error) {
			return net.Dial(network, addr)
		},
	}
	client := &http.Client{Transport: tr, Timeout: 60 * time.Second}
	payload := make([]byte, *body)
	for i := range payload {
		payload[i] = byte(i)
	}
	var (
		mu    sync.Mutex
		ports = map[string]bool{}
		fail  bool
		wg    sync.WaitGroup
		sem   = make(chan struct{}, *conc)
	)
	var out io.Writer = os.Stdout
	one := func(i int) {
		{
			url := fmt.Sprintf("%s?i=%d&ms=%d", base, i, *ms)
			method := "GET"
			var rd io.Reader
			if *body > 0 {
				method = "POST"
				rd = strings.NewReader(string(payload))
			}
			var local string
			ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
				GotConn: func(ci httptrace.GotConnInfo) { local = ci.Conn.LocalAddr().String() },
			})
			req, err := http.NewRequestWithContext(ctx, method, url, rd)
			if err != nil {
				log.Fatal(err)
			}
			tid := fmt.Sprintf("%s%016x", *trace, i+1)
			sid := fmt.Sprintf("a%015x", i+1)
			f := *ctxFmt
			if f == "alt" {
				f = map[bool]string{true: "b3", false: "traceparent"}[i%2 == 0]
			}
			switch f {
			case "b3":
				req.Header.Set("X-B3-TraceId", tid)
				req.Header.Set("X-B3-SpanId", sid)
				req.Header.Set("X-B3-Sampled", "1")
			case "traceparent":
				req.Header.Set("traceparent", "00-"+tid+"-"+sid+"-01")
			}
			resp, err := client.Do(req)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				fmt.Fprintf(os.Stderr, "goh2: request %d: %v\n", i, err)
				fail = true
				return
			}
			got, _ := io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.ProtoMajor != 2 || (resp.StatusCode == 200 && got != int64(*body)) {
				fmt.Fprintf(os.Stderr, "goh2: request %d: %s, %d bytes back\n", i, resp.Proto, got)
				fail = true
			}
			ports[local] = true
			_, port, _ := net.SplitHostPort(local)
			fmt.Fprintf(out, "%d %d %s\n", i, resp.StatusCode, port)
		}
	}
	if *warm > 0 {
		out = os.Stderr
		for i := 0; i < *warm; i++ {
			one(1000 + i)
		}
		fmt.Fprintln(os.Stderr, "goh2: warm")
		if _, err := bufio.NewReader(os.Stdin).ReadString('\n'); err != nil {
			log.Fatal(err)
		}
		out = os.Stdout
	}
	for i := 0; i < *n; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func(i int) {
			defer wg.Done()
			defer func() { <-sem }()
			one(i)
		}(i)
	}
	wg.Wait()
	if len(ports) != 1 {
		fmt.Fprintf(os.Stderr, "goh2: %d connections used, want 1\n", len(ports))
		fail = true
	}
	if fail {
		return 1
	}
	return 0
}
