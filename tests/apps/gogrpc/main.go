// gogrpc: a gRPC server and client in one binary (google.golang.org/grpc),
// playing a traced Go service in weft's end-to-end tests of gRPC (issue 13).
// No protoc: the service is a grpc.ServiceDesc written here and its one
// message is encoded by hand in the protobuf wire format (codec.go), so the
// wire carries what a protoc-generated service would: content-type
// application/grpc, path /weft.test.Echo/METHOD. Builds with Go 1.19 and
// newer (grpc v1.58.3, the last release whose go.mod says go 1.19 that we
// tried first).
//
//	gogrpc serve -addr 127.0.0.1:0 -name svc [-cert srv.pem -key srv.key] [-ca ca.pem] [-next URL [-propagate]]
//	gogrpc call [-ca ca.pem] [-method Hello|Count] [-n N] [-code C] [-reps R]
//	            [-b3 TRACE-SPAN] [-traceparent V] [-H 'k: v']... [-warm W] [-gap MS] TARGET
//
// TARGET and -next are grpc://HOST:PORT (plaintext HTTP/2, prior knowledge),
// grpcs://HOST:PORT (TLS, h2 by ALPN, trusting -ca), or for -next also an
// http:// or https:// URL (net/http, h2 by ALPN over TLS): the server's
// handlers call it once per request, propagating nothing (no metadata, no
// header: weft must link the spans in-process), or with -propagate the
// incoming B3 and W3C trace-context metadata, as mesh apps do. The -next connection is
// made at the first call, not at start-up: weft follows HTTP/2 connections
// from their preface, so one made before weft started would stay unseen.
//
// The service weft.test.Echo:
//
//	Hello (unary)             one reply; request n > 0 asks for status code n
//	Count (server streaming)  n replies (3 when n is 0)
//
// The server prints "ready <addr>" on stdout once listening. The client makes
// -reps calls over one connection, prints "CODE METHOD MESSAGES LOCAL-PORT"
// per call (CODE the grpc-status number, LOCAL-PORT the connection's) and exits 1 unless every call ended with
// status -code (0 by default). -b3 T-S sends x-b3-traceid T, x-b3-spanid S
// and x-b3-sampled 1 as metadata; -traceparent V sends traceparent V.
// -gap MS waits that long between calls. -warm W first makes W calls the
// same way (their lines on stderr), prints "gogrpc: warm" on stderr and
// waits for a line on stdin: the connection and its HPACK tables exist
// before what the test starts meanwhile (weft, taking up a connection older
// than itself).
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
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

const service = "weft.test.Echo"

func usage() {
	fmt.Fprintln(os.Stderr, "usage: gogrpc serve [-addr A] [-name N] [-cert F -key F] [-ca F] [-next URL [-propagate]]\n"+
		"       gogrpc call [-ca F] [-method Hello|Count] [-n N] [-code C] [-reps R] [-b3 T-S] [-traceparent V] [-H 'k: v']... [-warm W] [-gap MS] TARGET")
	os.Exit(2)
}

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	switch os.Args[1] {
	case "serve":
		serve(os.Args[2:])
	case "call":
		os.Exit(call(os.Args[2:]))
	default:
		usage()
	}
}

func tlsConfig(caFile string) *tls.Config {
	tc := &tls.Config{}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			log.Fatal(err)
		}
		tc.RootCAs = x509.NewCertPool()
		if !tc.RootCAs.AppendCertsFromPEM(pem) {
			log.Fatalf("gogrpc: no certificate in %s", caFile)
		}
	}
	return tc
}

// lastPort is the local port of the last connection dial made.
var lastPort atomic.Int32

// dial connects to grpc://HOST:PORT or grpcs://HOST:PORT.
func dial(target, caFile string) (*grpc.ClientConn, error) {
	var cred credentials.TransportCredentials
	switch {
	case strings.HasPrefix(target, "grpc://"):
		cred = insecure.NewCredentials()
	case strings.HasPrefix(target, "grpcs://"):
		cred = credentials.NewTLS(tlsConfig(caFile))
	default:
		return nil, fmt.Errorf("target %q is neither grpc:// nor grpcs://", target)
	}
	addr := target[strings.Index(target, "://")+3:]
	// grpc.Dial resolves with "passthrough": no DNS look-up of any kind
	return grpc.Dial(addr, grpc.WithTransportCredentials(cred),
		grpc.WithContextDialer(func(ctx context.Context, a string) (net.Conn, error) {
			var d net.Dialer
			c, err := d.DialContext(ctx, "tcp", a)
			if err == nil {
				lastPort.Store(int32(c.LocalAddr().(*net.TCPAddr).Port))
			}
			return c, err
		}))
}

// ------------------------------------------------------------------ server

type server struct {
	name string
	// the downstream the handlers call, one of:
	nextGRPC string // grpc:// or grpcs:// target, dialled at the first call
	nextHTTP *http.Client
	nextURL  string
	ca       string
	// copy the incoming trace-context metadata onto the downstream call
	propagate bool

	dialOnce sync.Once
	next     *grpc.ClientConn
	dialErr  error
}

// contextKeys are the metadata keys -propagate copies.
var contextKeys = []string{"x-b3-traceid", "x-b3-spanid", "x-b3-parentspanid",
	"x-b3-sampled", "x-b3-flags", "b3", "traceparent", "tracestate"}

// callNext calls the downstream once, with ctx's deadline and cancellation
// but none of the incoming metadata.
func (s *server) callNext(ctx context.Context) (string, error) {
	var kv []string
	if md, ok := metadata.FromIncomingContext(ctx); ok && s.propagate {
		for _, k := range contextKeys {
			for _, v := range md.Get(k) {
				kv = append(kv, k, v)
			}
		}
	}
	if s.nextGRPC != "" {
		ctx = metadata.AppendToOutgoingContext(ctx, kv...)
		s.dialOnce.Do(func() { s.next, s.dialErr = dial(s.nextGRPC, s.ca) })
		if s.dialErr != nil {
			return "", s.dialErr
		}
		out := new(Msg)
		err := s.next.Invoke(ctx, "/"+service+"/Hello", &Msg{Text: s.name}, out)
		return out.Text, err
	}
	if s.nextHTTP != nil {
		req, err := http.NewRequestWithContext(ctx, "GET", s.nextURL, nil)
		if err != nil {
			return "", err
		}
		for i := 0; i+1 < len(kv); i += 2 {
			req.Header.Add(kv[i], kv[i+1])
		}
		resp, err := s.nextHTTP.Do(req)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err == nil && resp.StatusCode != 200 {
			err = fmt.Errorf("%s: status %d", s.nextURL, resp.StatusCode)
		}
		return string(b), err
	}
	return "", nil
}

func (s *server) hello(ctx context.Context, in *Msg) (*Msg, error) {
	down, err := s.callNext(ctx)
	if err != nil {
		return nil, status.Errorf(codes.Unavailable, "downstream: %v", err)
	}
	if in.N != 0 {
		return nil, status.Errorf(codes.Code(in.N), "status %d asked for", in.N)
	}
	return &Msg{Text: strings.TrimSpace("hello from " + s.name + " " + down)}, nil
}

func (s *server) count(in *Msg, stream grpc.ServerStream) error {
	if _, err := s.callNext(stream.Context()); err != nil {
		return status.Errorf(codes.Unavailable, "downstream: %v", err)
	}
	n := in.N
	if n == 0 {
		n = 3
	}
	for i := uint32(0); i < n; i++ {
		if err := stream.SendMsg(&Msg{Text: fmt.Sprintf("%s %d", s.name, i), N: i}); err != nil {
			return err
		}
	}
	return nil
}

// The service as protoc-gen-go-grpc would describe it, written by hand.
var echoDesc = grpc.ServiceDesc{
	ServiceName: service,
	HandlerType: (*interface{})(nil),
	Methods: []grpc.MethodDesc{{
		MethodName: "Hello",
		Handler: func(srv interface{}, ctx context.Context, dec func(interface{}) error,
			icpt grpc.UnaryServerInterceptor) (interface{}, error) {
			in := new(Msg)
			if err := dec(in); err != nil {
				return nil, err
			}
			return srv.(*server).hello(ctx, in)
		},
	}},
	Streams: []grpc.StreamDesc{{
		StreamName:    "Count",
		ServerStreams: true,
		Handler: func(srv interface{}, stream grpc.ServerStream) error {
			in := new(Msg)
			if err := stream.RecvMsg(in); err != nil {
				return err
			}
			return srv.(*server).count(in, stream)
		},
	}},
}

func serve(args []string) {
	fs := flag.NewFlagSet("serve", flag.ExitOnError)
	addr := fs.String("addr", "127.0.0.1:50051", "listen address")
	name := fs.String("name", "gogrpc", "service name, in the replies")
	cert := fs.String("cert", "", "server certificate (PEM): serve TLS; none: plaintext (h2c)")
	key := fs.String("key", "", "server private key (PEM)")
	ca := fs.String("ca", "", "CA the -next client trusts (PEM)")
	next := fs.String("next", "", "downstream each call calls: grpc://, grpcs://, http:// or https://")
	propagate := fs.Bool("propagate", false, "copy the incoming trace-context metadata onto the -next call")
	fs.Parse(args)

	s := &server{name: *name, ca: *ca, propagate: *propagate}
	switch {
	case *next == "":
	case strings.HasPrefix(*next, "http://") || strings.HasPrefix(*next, "https://"):
		s.nextURL = *next
		s.nextHTTP = &http.Client{Transport: &http.Transport{
			TLSClientConfig: tlsConfig(*ca), ForceAttemptHTTP2: true}}
	case strings.HasPrefix(*next, "grpc://") || strings.HasPrefix(*next, "grpcs://"):
		s.nextGRPC = *next
	default:
		log.Fatalf("gogrpc: -next %q: grpc://, grpcs://, http:// or https://", *next)
	}
	var opts []grpc.ServerOption
	if *cert != "" {
		kp, err := tls.LoadX509KeyPair(*cert, *key)
		if err != nil {
			log.Fatal(err)
		}
		opts = append(opts, grpc.Creds(credentials.NewTLS(&tls.Config{Certificates: []tls.Certificate{kp}})))
	}
	gs := grpc.NewServer(opts...)
	gs.RegisterService(&echoDesc, s)

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	out := bufio.NewWriter(os.Stdout)
	fmt.Fprintf(out, "ready %s\n", ln.Addr())
	out.Flush()
	log.Fatal(gs.Serve(ln))
}

// ------------------------------------------------------------------ client

type pairs []string

func (h *pairs) String() string     { return strings.Join(*h, ", ") }
func (h *pairs) Set(v string) error { *h = append(*h, v); return nil }

func call(args []string) int {
	fs := flag.NewFlagSet("call", flag.ExitOnError)
	ca := fs.String("ca", "", "CA to trust for grpcs:// (PEM)")
	method := fs.String("method", "Hello", "Hello (unary) or Count (server streaming)")
	n := fs.Uint("n", 0, "Hello: status code to ask for; Count: replies (0: 3)")
	want := fs.Int("code", 0, "status code every call must end with")
	reps := fs.Int("reps", 1, "calls, over one connection")
	warm := fs.Int("warm", 0, "calls made first, then wait for a line on stdin")
	gap := fs.Int("gap", 0, "milliseconds between calls")
	b3 := fs.String("b3", "", "TRACE-SPAN: x-b3-traceid/x-b3-spanid/x-b3-sampled metadata")
	tp := fs.String("traceparent", "", "traceparent metadata value")
	var md pairs
	fs.Var(&md, "H", "metadata 'key: value' (repeatable)")
	fs.Parse(args)
	if fs.NArg() != 1 || (*method != "Hello" && *method != "Count") {
		usage()
	}
	kv := []string{}
	if *b3 != "" {
		t, s, ok := strings.Cut(*b3, "-")
		if !ok {
			fmt.Fprintln(os.Stderr, "gogrpc: -b3 TRACE-SPAN")
			return 2
		}
		kv = append(kv, "x-b3-traceid", t, "x-b3-spanid", s, "x-b3-sampled", "1")
	}
	if *tp != "" {
		kv = append(kv, "traceparent", *tp)
	}
	for _, h := range md {
		k, v, ok := strings.Cut(h, ":")
		if !ok {
			fmt.Fprintln(os.Stderr, "bad metadata:", h)
			return 2
		}
		kv = append(kv, strings.ToLower(strings.TrimSpace(k)), strings.TrimSpace(v))
	}
	conn, err := dial(fs.Arg(0), *ca)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	defer conn.Close()
	rc := 0
	for i := 0; i < *warm; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		ctx = metadata.AppendToOutgoingContext(ctx, kv...)
		got, err := once(ctx, conn, *method, uint32(*n))
		cancel()
		fmt.Fprintf(os.Stderr, "%d %s %d %d (warm)\n", status.Code(err), *method, got, lastPort.Load())
	}
	if *warm > 0 {
		fmt.Fprintln(os.Stderr, "gogrpc: warm")
		if _, err := bufio.NewReader(os.Stdin).ReadString('\n'); err != nil {
			log.Fatal(err)
		}
	}
	for i := 0; i < *reps; i++ {
		if i > 0 && *gap > 0 {
			time.Sleep(time.Duration(*gap) * time.Millisecond)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		ctx = metadata.AppendToOutgoingContext(ctx, kv...)
		got, err := once(ctx, conn, *method, uint32(*n))
		cancel()
		code := status.Code(err)
		fmt.Printf("%d %s %d %d\n", code, *method, got, lastPort.Load())
		if int(code) != *want {
			fmt.Fprintf(os.Stderr, "gogrpc: %s: %v (expected code %d)\n", *method, err, *want)
			rc = 1
		}
	}
	return rc
}

// once makes one call; returns the number of replies received.
func once(ctx context.Context, conn *grpc.ClientConn, method string, n uint32) (int, error) {
	if method == "Hello" {
		out := new(Msg)
		if err := conn.Invoke(ctx, "/"+service+"/Hello", &Msg{Text: "hi", N: n}, out); err != nil {
			return 0, err
		}
		return 1, nil
	}
	stream, err := conn.NewStream(ctx, &grpc.StreamDesc{StreamName: "Count", ServerStreams: true},
		"/"+service+"/Count")
	if err != nil {
		return 0, err
	}
	if err := stream.SendMsg(&Msg{Text: "count", N: n}); err != nil {
		return 0, err
	}
	if err := stream.CloseSend(); err != nil {
		return 0, err
	}
	got := 0
	for {
		m := new(Msg)
		err := stream.RecvMsg(m)
		if err == io.EOF {
			return got, nil
		}
		if err != nil {
			return got, err
		}
		got++
	}
}
