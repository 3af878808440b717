// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)

// Command go-offsets prints, from a Go binary's DWARF, the struct field
// offsets weft's BPF side needs to go from a *crypto/tls.Conn to the
// socket's file descriptor (user/go_offsets.h), with the binary's Go
// version:
//
//	go1.26.8 tls_conn_conn=0 iface_data=8 tcpconn_fd=0 netfd_pfd=0 pfd_sysfd=16
//
// It exits non-zero, naming what is missing, when the binary has no DWARF
// or lacks one of the types. Used by scripts/gen-go-offsets.sh and
// tests/unit/test_go_offsets.c.
package main

import (
	"debug/buildinfo"
	"debug/dwarf"
	"debug/elf"
	"fmt"
	"os"
)

// field is one offset: the struct type's DWARF name and a path of fields
// (embedded structs are fields named after their type).
type field struct {
	key    string
	typ    string
	fields []string
}

var wanted = []field{
	{"tls_conn_conn", "crypto/tls.Conn", []string{"conn"}},
	{"iface_data", "runtime.iface", []string{"data"}},
	{"tcpconn_fd", "net.TCPConn", []string{"conn", "fd"}},
	{"netfd_pfd", "net.netFD", []string{"pfd"}},
	{"pfd_sysfd", "internal/poll.FD", []string{"Sysfd"}},
}

func main() {
	if len(os.Args) == 3 && os.Args[1] == "-h2" {
		h2Main(os.Args[2])
		return
	}
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: go-offsets BINARY | go-offsets -h2 BINARY")
		os.Exit(2)
	}
	path := os.Args[1]
	bi, types := load(path)
	out := bi.GoVersion
	for _, w := range wanted {
		off, err := offset(types, w.typ, w.fields)
		if err != nil {
			fail("%s: %s: %v", path, w.key, err)
		}
		out += fmt.Sprintf(" %s=%d", w.key, off)
	}
	fmt.Println(out)
}

// load reads a binary's build info and indexes its DWARF struct types, or
// exits saying what is missing.
func load(path string) (*buildinfo.BuildInfo, map[string]*dwarf.StructType) {
	bi, err := buildinfo.ReadFile(path)
	if err != nil {
		fail("%s: no Go build info: %v", path, err)
	}
	f, err := elf.Open(path)
	if err != nil {
		fail("%s: %v", path, err)
	}
	defer f.Close()
	d, err := f.DWARF()
	if err != nil {
		fail("%s: no DWARF (stripped?): %v", path, err)
	}
	types, err := structs(d)
	if err != nil {
		fail("%s: reading DWARF: %v", path, err)
	}
	return bi, types
}

// structs indexes the binary's struct types by name.
func structs(d *dwarf.Data) (map[string]*dwarf.StructType, error) {
	m := map[string]*dwarf.StructType{}
	r := d.Reader()
	for {
		e, err := r.Next()
		if err != nil {
			return nil, err
		}
		if e == nil {
			return m, nil
		}
		if e.Tag != dwarf.TagStructType {
			continue
		}
		name, _ := e.Val(dwarf.AttrName).(string)
		if name == "" || m[name] != nil {
			continue
		}
		t, err := d.Type(e.Offset)
		if err != nil {
			return nil, err
		}
		if st, ok := t.(*dwarf.StructType); ok {
			m[name] = st
		}
	}
}

// offset walks a field path from struct typ and adds up the offsets.
func offset(types map[string]*dwarf.StructType, typ string, path []string) (int64, error) {
	st := types[typ]
	if st == nil {
		return 0, fmt.Errorf("no struct %s in DWARF", typ)
	}
	var total int64
	for i, name := range path {
		fld := fieldOf(st, name)
		if fld == nil {
			return 0, fmt.Errorf("struct %s has no field %s", st.StructName, name)
		}
		total += fld.ByteOffset
		if i == len(path)-1 {
			break
		}
		ft := strip(fld.Type)
		next, ok := ft.(*dwarf.StructType)
		if !ok {
			if p, isPtr := ft.(*dwarf.PtrType); isPtr {
				return 0, fmt.Errorf("%s.%s is a pointer (%s): a path stops at pointers", st.StructName, name, p)
			}
			return 0, fmt.Errorf("%s.%s is %s, not a struct", st.StructName, name, fld.Type)
		}
		st = next
	}
	return total, nil
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "go-offsets: "+format+"\n", args...)
	os.Exit(1)
}
