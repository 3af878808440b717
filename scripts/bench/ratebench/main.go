// ratebench: the two Go helpers of scripts/bench.sh. No third-party modules.
//
// Constant-rate (open-loop, wrk2-style) HTTP/1.1 load with per-request
// latency, printed as one JSON line:
//
//	ratebench -url http://127.0.0.1:8080/hello -rate 5000 -duration 8s -conns 16
//
// Requests are scheduled at fixed intervals (start + i/rate) and handed to
// -conns keep-alive connections. Each request's latency is measured two
// ways: "service" from the moment it was written to the socket until its
// response was read completely, and "corrected" from its scheduled send
// time (so queueing behind a slow response counts, as in wrk2). When every
// connection is busy, requests wait; none are skipped.
//
// An OTLP/HTTP sink that accepts and discards whatever is POSTed to it,
// answering 200 with an empty ExportTraceServiceResponse:
//
//	ratebench -sink 127.0.0.1:4318
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

type result struct {
	Rate          float64 `json:"rate"`
	Requests      int64   `json:"requests"`
	Errors        int64   `json:"errors"`
	Non2xx        int64   `json:"non_2xx"`
	Seconds       float64 `json:"seconds"`
	AchievedRate  float64 `json:"achieved_rate"`
	P50us         float64 `json:"p50_us"`
	P90us         float64 `json:"p90_us"`
	P99us         float64 `json:"p99_us"`
	P999us        float64 `json:"p999_us"`
	MaxUs         float64 `json:"max_us"`
	CorrP50us     float64 `json:"corrected_p50_us"`
	CorrP99us     float64 `json:"corrected_p99_us"`
	MaxBacklogReq int64   `json:"max_backlog"`
}

func pct(s []time.Duration, p float64) float64 {
	if len(s) == 0 {
		return 0
	}
	i := int(p * float64(len(s)-1))
	return float64(s[i].Nanoseconds()) / 1e3
}

type sample struct{ svc, corr time.Duration }

func worker(u *url.URL, sched <-chan time.Time, out *[]sample, errs, non2xx *int64, wg *sync.WaitGroup) {
	defer wg.Done()
	var conn net.Conn
	var br *bufio.Reader
	reqBytes := []byte(fmt.Sprintf("GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: ratebench\r\n\r\n", u.RequestURI(), u.Host))
	req, _ := http.NewRequest("GET", u.String(), nil)
	for due := range sched {
		if d := time.Until(due); d > 0 {
			time.Sleep(d)
		}
		if conn == nil {
			c, err := net.Dial("tcp", u.Host)
			if err != nil {
				atomic.AddInt64(errs, 1)
				continue
			}
			conn, br = c, bufio.NewReaderSize(c, 16<<10)
		}
		t0 := time.Now()
		_, err := conn.Write(reqBytes)
		var resp *http.Response
		if err == nil {
			resp, err = http.ReadResponse(br, req)
		}
		if err == nil {
			_, err = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		t1 := time.Now()
		if err != nil {
			atomic.AddInt64(errs, 1)
			conn.Close()
			conn = nil
			continue
		}
		if resp.StatusCode < 200 || resp.StatusCode > 299 {
			atomic.AddInt64(non2xx, 1)
		}
		corr := t1.Sub(due)
		if corr < 0 {
			corr = 0
		}
		*out = append(*out, sample{t1.Sub(t0), corr})
		if resp.Close {
			conn.Close()
			conn = nil
		}
	}
	if conn != nil {
		conn.Close()
	}
}

func load(rawurl string, rate float64, dur time.Duration, conns int) {
	u, err := url.Parse(rawurl)
	if err != nil || u.Scheme != "http" {
		fmt.Fprintf(os.Stderr, "ratebench: bad -url %q\n", rawurl)
		os.Exit(2)
	}
	sched := make(chan time.Time, 1<<20)
	outs := make([][]sample, conns)
	var errs, non2xx int64
	var wg sync.WaitGroup
	for i := 0; i < conns; i++ {
		outs[i] = make([]sample, 0, int(rate*dur.Seconds())/conns+16)
		wg.Add(1)
		go worker(u, sched, &outs[i], &errs, &non2xx, &wg)
	}
	start := time.Now().Add(20 * time.Millisecond)
	n := int64(rate * dur.Seconds())
	interval := float64(time.Second) / rate
	var maxBacklog int64
	for i := int64(0); i < n; i++ {
		due := start.Add(time.Duration(float64(i) * interval))
		// Feed the schedule a little ahead of time; workers sleep until due.
		if d := time.Until(due) - 2*time.Millisecond; d > 0 {
			time.Sleep(d)
		}
		if b := int64(len(sched)); b > maxBacklog {
			maxBacklog = b
		}
		sched <- due
	}
	close(sched)
	wg.Wait()
	elapsed := time.Since(start)

	var all []sample
	for _, o := range outs {
		all = append(all, o...)
	}
	svc := make([]time.Duration, len(all))
	corr := make([]time.Duration, len(all))
	for i, s := range all {
		svc[i], corr[i] = s.svc, s.corr
	}
	sort.Slice(svc, func(i, j int) bool { return svc[i] < svc[j] })
	sort.Slice(corr, func(i, j int) bool { return corr[i] < corr[j] })
	r := result{
		Rate: rate, Requests: int64(len(all)), Errors: errs, Non2xx: non2xx,
		Seconds: elapsed.Seconds(), AchievedRate: float64(len(all)) / elapsed.Seconds(),
		P50us: pct(svc, 0.50), P90us: pct(svc, 0.90), P99us: pct(svc, 0.99),
		P999us: pct(svc, 0.999), MaxUs: pct(svc, 1),
		CorrP50us: pct(corr, 0.50), CorrP99us: pct(corr, 0.99),
		MaxBacklogReq: maxBacklog,
	}
	b, _ := json.Marshal(r)
	fmt.Println(string(b))
}

func sink(addr string) {
	var n int64
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		k, _ := io.Copy(io.Discard, r.Body)
		atomic.AddInt64(&n, k)
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.Header().Set("Content-Length", "0")
		w.WriteHeader(200)
	})
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "ratebench:", err)
		os.Exit(1)
	}
	fmt.Printf("ready %s\n", ln.Addr())
	os.Stdout.Sync()
	fmt.Fprintln(os.Stderr, http.Serve(ln, h))
	os.Exit(1)
}

func main() {
	rawurl := flag.String("url", "", "target URL (http only)")
	rate := flag.Float64("rate", 1000, "requests per second")
	dur := flag.Duration("duration", 5*time.Second, "length of the run")
	conns := flag.Int("conns", 16, "keep-alive connections")
	sinkAddr := flag.String("sink", "", "run an OTLP/HTTP sink on this address instead")
	flag.Parse()
	if *sinkAddr != "" {
		sink(*sinkAddr)
		return
	}
	if *rawurl == "" || *rate <= 0 || *conns <= 0 {
		flag.Usage()
		os.Exit(2)
	}
	load(*rawurl, *rate, *dur, *conns)
}
