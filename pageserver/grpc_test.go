package pageserver

import (
	"context"
	"errors"
	"io"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/phantom-db/phantom/internal/wirepb"
)

// serveGRPC serves s on 127.0.0.1:0 and returns a connected client.
func serveGRPC(t *testing.T, s *Server) wirepb.PageServerClient {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := grpc.NewServer()
	s.Register(g)
	go func() { _ = g.Serve(lis) }()
	t.Cleanup(g.Stop)
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return wirepb.NewPageServerClient(conn)
}

// grpcScan runs a Scan over the network and decodes every response.
func grpcScan(ctx context.Context, t *testing.T, c wirepb.PageServerClient, req *wirepb.ScanRequest) ([]kv, int, error) {
	t.Helper()
	stream, err := c.Scan(ctx, req)
	if err != nil {
		return nil, 0, err
	}
	var rows []kv
	msgs := 0
	for {
		resp, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return rows, msgs, nil
		}
		if err != nil {
			return rows, msgs, err
		}
		msgs++
		rec, err := DecodeScanResponse(resp.GetArrowIpc())
		if err != nil {
			t.Fatalf("decode response %d: %v", msgs, err)
		}
		rows = append(rows, batchRows(t, rec)...)
		rec.Release()
	}
}

func TestGRPCScanAndStatus(t *testing.T) {
	var entries []*wirepb.LogEntry
	for i := uint64(1); i <= 10; i++ {
		entries = append(entries, entry(i, 100+i, put(string(rune('a'+i-1)), "v"+string(rune('0'+i-1)))))
	}
	entries = append(entries, entry(11, 111, del("c")))
	log := newFakeLog(entries...)
	s := openServer(t, testConfig(t.TempDir(), log, newMemStore()))
	c := serveGRPC(t, s)
	ctx := context.Background()

	rows, msgs, err := grpcScan(ctx, t, c, &wirepb.ScanRequest{ReadTs: 200, MinIndex: 11})
	if err != nil {
		t.Fatalf("scan: %v", err)
	}
	want := model(entries, "", "", 200, 0)
	if !slices.Equal(rows, want) {
		t.Fatalf("got %q want %q", rows, want)
	}
	if msgs != 3 { // 9 rows in batches of 3
		t.Fatalf("got %d messages, want 3", msgs)
	}

	rows, _, err = grpcScan(ctx, t, c, &wirepb.ScanRequest{Start: []byte("b"), End: []byte("f"), ReadTs: 103, MinIndex: 3, Limit: 1})
	if err != nil {
		t.Fatalf("scan: %v", err)
	}
	if want := []kv{{"b", "v1"}}; !slices.Equal(rows, want) {
		t.Fatalf("got %q want %q", rows, want)
	}

	st, err := c.Status(ctx, &wirepb.PageStatusRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if st.GetAppliedIndex() != 11 || st.GetAppliedTs() != 111 {
		t.Fatalf("status %v, want applied index 11 ts 111", st)
	}
}

func TestScanWaitsForMinIndex(t *testing.T) {
	log := newFakeLog(entry(1, 10, put("k", "v1")), entry(2, 20, put("k", "v2")))
	cfg := testConfig(t.TempDir(), log, newMemStore())
	cfg.ReadWaitTimeout = 500 * time.Millisecond
	s := openServer(t, cfg)
	c := serveGRPC(t, s)
	ctx := context.Background()
	waitApplied(t, s, 2)

	// Index 3 never arrives: a clear DeadlineExceeded after ReadWaitTimeout.
	start := time.Now()
	_, _, err := grpcScan(ctx, t, c, &wirepb.ScanRequest{ReadTs: 30, MinIndex: 3})
	if status.Code(err) != codes.DeadlineExceeded {
		t.Fatalf("got %v, want DeadlineExceeded", err)
	}
	if msg := status.Convert(err).Message(); !strings.Contains(msg, "min_index 3") || !strings.Contains(msg, "applied index 2") {
		t.Fatalf("unclear error message: %q", msg)
	}
	if d := time.Since(start); d < cfg.ReadWaitTimeout {
		t.Fatalf("gave up after %s, before ReadWaitTimeout %s", d, cfg.ReadWaitTimeout)
	}

	// Index 3 arrives while a scan waits (well within ReadWaitTimeout): the
	// scan sees it.
	type result struct {
		rows []kv
		err  error
	}
	done := make(chan result, 1)
	go func() {
		rows, _, err := grpcScan(ctx, t, c, &wirepb.ScanRequest{ReadTs: 30, MinIndex: 3})
		done <- result{rows, err}
	}()
	select {
	case r := <-done:
		t.Fatalf("scan answered before index 3 was applied: %v %v", r.rows, r.err)
	case <-time.After(50 * time.Millisecond):
	}
	log.append(entry(3, 30, put("k", "v3")))
	r := <-done
	if r.err != nil {
		t.Fatalf("scan: %v", r.err)
	}
	if want := []kv{{"k", "v3"}}; !slices.Equal(r.rows, want) {
		t.Fatalf("got %q want %q", r.rows, want)
	}
}

// TestDecodeScanResponseRejectsGarbage also covers a length prefix far
// beyond the payload ("not " reads as a 544 MB metadata length), which must
// be rejected rather than allocated.
func TestDecodeScanResponseRejectsGarbage(t *testing.T) {
	for _, b := range [][]byte{nil, []byte("not arrow"), make([]byte, 64)} {
		if rec, err := DecodeScanResponse(b); err == nil {
			rec.Release()
			t.Fatalf("decoded %q without error", b)
		}
	}
}

func FuzzDecodeScanResponse(f *testing.F) {
	bld := newTestBatch(f, []kv{{"a", "1"}, {"b", ""}})
	f.Add(bld)
	f.Add(bld[:len(bld)/2])
	f.Add([]byte("garbage"))
	f.Fuzz(func(t *testing.T, b []byte) {
		rec, err := DecodeScanResponse(b)
		if err != nil {
			return
		}
		defer rec.Release()
		if !rec.Schema().Equal(ScanSchema) {
			t.Fatalf("decoded schema %s", rec.Schema())
		}
	})
}
