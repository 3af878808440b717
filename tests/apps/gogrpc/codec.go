package main

// The service's one message, encoded by hand in the protobuf wire format:
//
//	message Msg { string text = 1; uint32 n = 2; }
//
// registered as grpc's "proto" codec, so that requests go out as
// content-type application/grpc (the default codec's name), as with
// protoc-generated code.

import (
	"errors"
	"fmt"

	"google.golang.org/grpc/encoding"
)

type Msg struct {
	Text string
	N    uint32
}

type msgCodec struct{}

func (msgCodec) Name() string { return "proto" }

func appendVarint(b []byte, v uint64) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

func (msgCodec) Marshal(v interface{}) ([]byte, error) {
	m, ok := v.(*Msg)
	if !ok {
		return nil, fmt.Errorf("codec: cannot marshal %T", v)
	}
	var b []byte
	if m.Text != "" {
		b = append(b, 1<<3|2)
		b = appendVarint(b, uint64(len(m.Text)))
		b = append(b, m.Text...)
	}
	if m.N != 0 {
		b = append(b, 2<<3|0)
		b = appendVarint(b, uint64(m.N))
	}
	return b, nil
}

var errShort = errors.New("codec: truncated message")

func varint(b []byte) (uint64, int, error) {
	var v uint64
	for i := 0; i < len(b) && i < 10; i++ {
		v |= uint64(b[i]&0x7f) << (7 * i)
		if b[i] < 0x80 {
			return v, i + 1, nil
		}
	}
	return 0, 0, errShort
}

func (msgCodec) Unmarshal(data []byte, v interface{}) error {
	m, ok := v.(*Msg)
	if !ok {
		return fmt.Errorf("codec: cannot unmarshal into %T", v)
	}
	*m = Msg{}
	for len(data) > 0 {
		tag, k, err := varint(data)
		if err != nil {
			return err
		}
		data = data[k:]
		var val uint64
		var bytes []byte
		switch tag & 7 {
		case 0:
			if val, k, err = varint(data); err != nil {
				return err
			}
		case 1, 5:
			k = 8
			if tag&7 == 5 {
				k = 4
			}
			if len(data) < k {
				return errShort
			}
		case 2:
			l, n, err := varint(data)
			if err != nil || uint64(len(data)-n) < l {
				return errShort
			}
			bytes, k = data[n:n+int(l)], n+int(l)
		default:
			return fmt.Errorf("codec: wire type %d", tag&7)
		}
		data = data[k:]
		switch {
		case tag == 1<<3|2:
			m.Text = string(bytes)
		case tag == 2<<3|0:
			m.N = uint32(val)
		}
	}
	return nil
}

func init() { encoding.RegisterCodec(msgCodec{}) }
