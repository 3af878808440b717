// goserver: a plain net/http server that plays a traced service in weft's
// end-to-end tests. No third-party modules; builds with Go 1.19 and newer.
//
//	goserver -addr 127.0.0.1:8080 -name svc
//
// Routes:
//
//	/hello            200 "hello"
//	/status/{code}    responds with that status code
//	/chunked          chunked response, several Flush()ed parts (?parts=N)
//	/big              1 MiB body (?bytes=N for another size)
//	/echo             echoes the request body, any method
//	/slow?ms=N        sleeps N ms, then 200 "slow"
//	/call?url=U       GET U with http.DefaultClient, copying the incoming
//	                  x-b3-traceid/x-b3-spanid/x-b3-parentspanid headers;
//	                  responds with the downstream status and body
//	/fanout?url=A&url=B  the same, one goroutine per url, concurrently;
//	                  responds 200 with one "status url" line per call, or
//	                  502 when any call failed
//	/respctx          200, with trace-context headers on the *response*
//	                  (ids 0xbad..., which must never be taken as context)
//	/exit             writes half a response and exits the process (mid-response)
//	/close            reads the request and closes the connection unanswered
//
// It prints "ready <addr>" on stdout once listening.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

var name = flag.String("name", "goserver", "service name, sent back in the X-Served-By header")

// Trace context that /respctx puts on its responses.
const (
	RespTraceID = "bad0bad0bad0bad0bad0bad0bad0bad0"
	RespSpanID  = "bad1bad1bad1bad1"
)

var propagated = []string{"X-B3-Traceid", "X-B3-Spanid", "X-B3-Parentspanid"}

func copyContext(dst, src http.Header) {
	for _, h := range propagated {
		if v := src.Get(h); v != "" {
			dst.Set(h, v)
		}
	}
}

func call(r *http.Request, url string) (int, []byte, error) {
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		return 0, nil, err
	}
	copyContext(req.Header, r.Header)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, body, err
}

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "listen address")
	flag.Parse()

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
	mux.HandleFunc("/chunked", func(w http.ResponseWriter, r *http.Request) {
		parts := 5
		if n, err := strconv.Atoi(r.URL.Query().Get("parts")); err == nil && n > 0 {
			parts = n
		}
		w.Header().Set("Content-Type", "text/plain")
		fl, _ := w.(http.Flusher)
		for i := 0; i < parts; i++ {
			fmt.Fprintf(w, "part %d\n", i)
			if fl != nil {
				fl.Flush()
			}
			time.Sleep(5 * time.Millisecond)
		}
	})
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		n := 1 << 20
		if v, err := strconv.Atoi(r.URL.Query().Get("bytes")); err == nil && v >= 0 {
			n = v
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Length", strconv.Itoa(n))
		buf := make([]byte, 64<<10)
		for i := range buf {
			buf[i] = 'a' + byte(i%26)
		}
		for n > 0 {
			k := len(buf)
			if k > n {
				k = n
			}
			w.Write(buf[:k])
			n -= k
		}
	})
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.Write(body)
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
		code, body, err := call(r, url)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		w.WriteHeader(code)
		w.Write(body)
	})
	mux.HandleFunc("/fanout", func(w http.ResponseWriter, r *http.Request) {
		urls := r.URL.Query()["url"]
		if len(urls) == 0 {
			http.Error(w, "missing url", http.StatusBadRequest)
			return
		}
		lines := make([]string, len(urls))
		failed := false
		var mu sync.Mutex
		var wg sync.WaitGroup
		for i, u := range urls {
			wg.Add(1)
			go func(i int, u string) {
				defer wg.Done()
				code, _, err := call(r, u)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					failed = true
					lines[i] = fmt.Sprintf("error %s", u)
				} else {
					lines[i] = fmt.Sprintf("%d %s", code, u)
				}
			}(i, u)
		}
		wg.Wait()
		if failed {
			w.WriteHeader(http.StatusBadGateway)
		}
		io.WriteString(w, strings.Join(lines, "\n")+"\n")
	})
	mux.HandleFunc("/respctx", func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-B3-TraceId", RespTraceID)
		h.Set("X-B3-SpanId", RespSpanID)
		h.Set("X-B3-Sampled", "1")
		h.Set("b3", RespTraceID+"-"+RespSpanID+"-1")
		h.Set("traceparent", "00-"+RespTraceID+"-"+RespSpanID+"-01")
		io.WriteString(w, "respctx")
	})
	mux.HandleFunc("/exit", func(w http.ResponseWriter, r *http.Request) {
		// Promise 1000 bytes, send 10, and die: the exchange never completes.
		w.Header().Set("Content-Length", "1000")
		w.WriteHeader(200)
		io.WriteString(w, "0123456789")
		w.(http.Flusher).Flush()
		time.Sleep(20 * time.Millisecond)
		os.Exit(3)
	})
	mux.HandleFunc("/close", func(w http.ResponseWriter, r *http.Request) {
		hj, ok := w.(http.Hijacker)
		if !ok {
			http.Error(w, "no hijack", 500)
			return
		}
		c, _, err := hj.Hijack()
		if err == nil {
			c.Close()
		}
	})

	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Served-By", *name)
		mux.ServeHTTP(w, r)
	})

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	out := bufio.NewWriter(os.Stdout)
	fmt.Fprintf(out, "ready %s\n", ln.Addr())
	out.Flush()
	srv := &http.Server{Handler: h, MaxHeaderBytes: 1 << 20}
	log.Fatal(srv.Serve(ln))
}
