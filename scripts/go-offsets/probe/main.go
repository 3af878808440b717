// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)

// Command probe is built, never run, by scripts/gen-go-offsets.sh with each
// Go toolchain at hand: a TLS client over TCP, so that crypto/tls.Conn,
// net.TCPConn, net.netFD and internal/poll.FD are in its DWARF exactly as
// in any Go program that uses them.
package main

import (
	"crypto/tls"
	"os"
)

func main() {
	if len(os.Args) < 2 {
		return
	}
	c, err := tls.Dial("tcp", os.Args[1], &tls.Config{})
	if err == nil {
		c.Close()
	}
}
