package chaos

import (
	"context"
	"fmt"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"

	"github.com/phantom-db/phantom/compute/storage"
	"github.com/phantom-db/phantom/internal/wirepb"
	"github.com/phantom-db/phantom/logservice/logclient"
)

// KV is the workloads' client: writes go through the real commit path
// (logclient Commit with a start_ts from GetTimestamp), reads through the
// real read path (GetTimestamp, then a page server Scan at that timestamp
// after min_index is applied), exactly as compute does.
type KV struct {
	log    *logclient.Client
	remote *storage.Remote
}

// NewKV returns a KV over a log service client and a page server client.
func NewKV(log *logclient.Client, pages wirepb.PageServerClient) *KV {
	return &KV{log: log, remote: storage.NewRemote(log, pages, nil)}
}

// PageDialOptions bound gRPC's reconnect backoff to the page server (by
// default it grows to 120s, so reads would fail fast long after a page
// server restart), so the workloads resume soon after kill-pageserver.
func PageDialOptions() []grpc.DialOption {
	return []grpc.DialOption{grpc.WithConnectParams(grpc.ConnectParams{
		Backoff:           backoff.Config{BaseDelay: 50 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: 500 * time.Millisecond},
		MinConnectTimeout: time.Second,
	})}
}

// Snapshot takes a read (and start) timestamp from the log service.
func (k *KV) Snapshot(ctx context.Context) (storage.Snapshot, error) {
	return k.remote.Begin(ctx)
}

// Get reads key at snap; found is false when it has no live version.
func (k *KV) Get(ctx context.Context, snap storage.Snapshot, key []byte) (value []byte, found bool, err error) {
	end := append(append([]byte{}, key...), 0)
	rows, err := k.Scan(ctx, snap, key, end)
	if err != nil {
		return nil, false, err
	}
	v, ok := rows[string(key)]
	return v, ok, nil
}

// Scan reads every live key in [start, end) at snap.
func (k *KV) Scan(ctx context.Context, snap storage.Snapshot, start, end []byte) (map[string][]byte, error) {
	rows := map[string][]byte{}
	err := k.remote.Scan(ctx, snap, start, end, 0, func(b arrow.RecordBatch) error {
		keys, ok1 := b.Column(0).(*array.Binary)
		vals, ok2 := b.Column(1).(*array.Binary)
		if !ok1 || !ok2 {
			return fmt.Errorf("chaos: scan batch has columns %s", b.Schema())
		}
		for i := range keys.Len() {
			rows[string(keys.Value(i))] = append([]byte{}, vals.Value(i)...)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return rows, nil
}

// Commit writes muts as one transaction that read at startTS.
func (k *KV) Commit(ctx context.Context, startTS uint64, muts []*wirepb.Mutation) (commitTS, index uint64, err error) {
	return k.log.Commit(ctx, startTS, muts, nil)
}
