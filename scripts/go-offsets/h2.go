// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)

package main

// go-offsets -h2 BINARY prints, from a Go binary's DWARF, where the HTTP/2
// stream id of a server stream's handler sits (user/go_h2_offsets.h): a
// path of offsets from the handler function's stream argument, a pointer
// read at each but the last. One line per server the binary has:
//
//	nethttp go1.26.8 0,0,8
//	xnet v0.17.0 0,0,8
//	grpc v1.58.3 0
//
// (net/http's bundled HTTP/2 by Go release; golang.org/x/net/http2 and
// google.golang.org/grpc by module version). Used by
// scripts/gen-go-h2-offsets.sh and tests/unit/test_go_offsets.c.

import (
	"debug/dwarf"
	"fmt"
	"strings"
)

// fieldOf: the field of that name, nil when none.
func fieldOf(st *dwarf.StructType, name string) *dwarf.StructField {
	for _, f := range st.Field {
		if f.Name == name {
			return f
		}
	}
	return nil
}

// strip: the type under any typedefs.
func strip(t dwarf.Type) dwarf.Type {
	for {
		td, ok := t.(*dwarf.TypedefType)
		if !ok {
			return t
		}
		t = td.Type
	}
}

// pointee: the struct a pointer field points to.
func pointee(t dwarf.Type) *dwarf.StructType {
	p, ok := strip(t).(*dwarf.PtrType)
	if !ok {
		return nil
	}
	st, _ := strip(p.Type).(*dwarf.StructType)
	return st
}

// rwPath: responseWriter.rws -> responseWriterState.stream -> stream.id,
// the structs of one HTTP/2 server (prefix "net/http.http2" or
// "golang.org/x/net/http2.").
func rwPath(types map[string]*dwarf.StructType, prefix string) (string, error) {
	rw := types[prefix+"responseWriter"]
	if rw == nil {
		return "", fmt.Errorf("no %sresponseWriter", prefix)
	}
	f1 := fieldOf(rw, "rws")
	if f1 == nil || pointee(f1.Type) == nil {
		return "", fmt.Errorf("%sresponseWriter.rws is not a pointer to a struct", prefix)
	}
	rws := pointee(f1.Type)
	f2 := fieldOf(rws, "stream")
	if f2 == nil || pointee(f2.Type) == nil {
		return "", fmt.Errorf("%sresponseWriterState.stream is not a pointer to a struct", prefix)
	}
	f3 := fieldOf(pointee(f2.Type), "id")
	if f3 == nil || f3.Type.Size() != 4 {
		return "", fmt.Errorf("%sstream.id is not 4 bytes", prefix)
	}
	return fmt.Sprintf("%d,%d,%d", f1.ByteOffset, f2.ByteOffset, f3.ByteOffset), nil
}

// grpcPath: handleStream's stream argument is a *transport.ServerStream
// (grpc-go 1.70 and later: it embeds Stream, by pointer or by value) or a
// *transport.Stream (before), whose id is the HTTP/2 stream id.
func grpcPath(types map[string]*dwarf.StructType) (string, error) {
	const pkg = "google.golang.org/grpc/internal/transport."
	stream := types[pkg+"Stream"]
	if stream == nil {
		return "", fmt.Errorf("no %sStream", pkg)
	}
	if ss := types[pkg+"ServerStream"]; ss != nil {
		emb := fieldOf(ss, "Stream")
		if emb == nil {
			return "", fmt.Errorf("%sServerStream embeds no Stream", pkg)
		}
		if st := pointee(emb.Type); st != nil {
			id := fieldOf(st, "id")
			if id == nil || id.Type.Size() != 4 {
				return "", fmt.Errorf("%sStream.id is not 4 bytes", pkg)
			}
			return fmt.Sprintf("%d,%d", emb.ByteOffset, id.ByteOffset), nil
		}
		st, ok := strip(emb.Type).(*dwarf.StructType)
		if !ok {
			return "", fmt.Errorf("%sServerStream.Stream is %s", pkg, emb.Type)
		}
		id := fieldOf(st, "id")
		if id == nil || id.Type.Size() != 4 {
			return "", fmt.Errorf("%sStream.id is not 4 bytes", pkg)
		}
		return fmt.Sprintf("%d", emb.ByteOffset+id.ByteOffset), nil
	}
	id := fieldOf(stream, "id")
	if id == nil || id.Type.Size() != 4 {
		return "", fmt.Errorf("%sStream.id is not 4 bytes", pkg)
	}
	return fmt.Sprintf("%d", id.ByteOffset), nil
}

func h2Main(path string) {
	bi, types := load(path)
	mods := map[string]string{}
	for _, m := range bi.Deps {
		if m.Replace != nil {
			m = m.Replace
		}
		mods[m.Path] = m.Version
	}
	found := false
	if types["net/http.http2responseWriter"] != nil {
		p, err := rwPath(types, "net/http.http2")
		if err != nil {
			fail("%s: %v", path, err)
		}
		fmt.Printf("nethttp %s %s\n", strings.Fields(bi.GoVersion)[0], p)
		found = true
	}
	if v, ok := mods["golang.org/x/net"]; ok && types["golang.org/x/net/http2.responseWriter"] != nil {
		p, err := rwPath(types, "golang.org/x/net/http2.")
		if err != nil {
			fail("%s: %v", path, err)
		}
		fmt.Printf("xnet %s %s\n", v, p)
		found = true
	}
	if v, ok := mods["google.golang.org/grpc"]; ok {
		p, err := grpcPath(types)
		if err != nil {
			fail("%s: %v", path, err)
		}
		fmt.Printf("grpc %s %s\n", v, p)
		found = true
	}
	if !found {
		fail("%s: no HTTP/2 server in DWARF", path)
	}
}
