// goclient: GET a URL N times over one keep-alive connection (net/http client).
//
//	goclient -n 3 -H 'X-B3-TraceId: ...' http://127.0.0.1:8080/hello
//
// Prints one "status bytes" line per request; exits 1 on any transport error.
package main

import (
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
)

type headers []string

func (h *headers) String() string     { return strings.Join(*h, ", ") }
func (h *headers) Set(v string) error { *h = append(*h, v); return nil }

func main() {
	n := flag.Int("n", 1, "number of requests")
	method := flag.String("X", "GET", "method")
	var hdrs headers
	flag.Var(&hdrs, "H", "header 'Name: value' (repeatable)")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: goclient [-n N] [-X METHOD] [-H 'K: V']... URL")
		os.Exit(2)
	}
	url := flag.Arg(0)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1, MaxConnsPerHost: 1}}
	for i := 0; i < *n; i++ {
		req, err := http.NewRequest(*method, url, nil)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		for _, h := range hdrs {
			k, v, ok := strings.Cut(h, ":")
			if !ok {
				fmt.Fprintln(os.Stderr, "bad header:", h)
				os.Exit(2)
			}
			req.Header.Add(strings.TrimSpace(k), strings.TrimSpace(v))
		}
		resp, err := client.Do(req)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		b, _ := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		fmt.Printf("%d %d\n", resp.StatusCode, b)
	}
}
