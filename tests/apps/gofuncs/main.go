// gofuncs: a binary for weft's function-table test (tests/unit/
// test_gopclntab.c), built by tests/apps/build.sh with each toolchain in
// every variant weft must read: stripped (-ldflags='-s -w') and not, PIE
// and not, CGO on (cgo.go: C code of its own, so the link is external, as
// with any cgo module) and off. It uses net/http's client and server and
// crypto/tls, so the functions weft probes are in it. Run, it serves one
// request to itself and exits.
package main

import (
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
)

func main() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	go http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello")
	}))
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{}}}
	resp, err := client.Get("http://" + ln.Addr().String() + "/")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Printf("%s %s (cgo %d)\n", resp.Status, body, cgoAnswer())
}
