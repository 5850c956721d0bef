package pageserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/phantom-db/phantom/internal/objstore"
	"github.com/phantom-db/phantom/internal/wirepb"
)

// Defaults applied by Config.EnsureDefaults.
const (
	DefaultCheckpointInterval     = 30 * time.Second
	DefaultReadWaitTimeout        = 5 * time.Second
	DefaultScanBatchRows          = 1024
	DefaultBlockCacheBytes        = 512 << 20
	DefaultCloseCheckpointTimeout = 30 * time.Second
	DefaultNodeID                 = "pageserver"
	DefaultRetention              = 24 * time.Hour
	DefaultGCInterval             = 10 * time.Minute
	DefaultKeepCheckpoints        = 3
	DefaultGCMaxDeletes           = 1000
	DefaultGCMaxVersions          = 100_000
	DefaultReportTimeout          = 5 * time.Second
)

// LogSource is the part of the log service client the page server consumes.
type LogSource interface {
	// ReadLog calls fn with every commit entry whose index is >= fromIndex,
	// in increasing index order, and then follows new entries until ctx is
	// done. Indexes are increasing but need not be dense (Raft entries that
	// are not commits have no LogEntry). An error from fn ends the call with
	// that error.
	ReadLog(ctx context.Context, fromIndex uint64, fn func(*wirepb.LogEntry) error) error
}

// ConsistencyReporter receives the position of every checkpoint the page
// server wrote: everything up to index (commit_ts ts) is in the object store,
// so the log service may truncate the log up to index. The log service
// client implements it.
type ConsistencyReporter interface {
	// ReportConsistent reports that node nodeID holds a checkpoint of the
	// log up to index (whose commit_ts is ts) in the object store.
	ReportConsistent(ctx context.Context, nodeID string, index, ts uint64) error
}

// Config configures one page server serving one shard.
type Config struct {
	// DataDir is the local directory the page server owns. Pebble lives in
	// DataDir/pebble; temporary checkpoint and restore directories are
	// created beside it. Required.
	DataDir string
	// Log is the shard's commit log. Required.
	Log LogSource
	// Store is the object store checkpoints are written to and restored
	// from. Required.
	Store objstore.Store
	// Prefix is the object key prefix of this shard, ending in "/", e.g.
	// "tenants/<t>/databases/<d>/shards/<s>/". Empty means the bucket root.
	Prefix string
	// CheckpointInterval is the time between periodic checkpoints. Default
	// 30s (DefaultCheckpointInterval); a negative value disables periodic
	// checkpoints (Close still takes one). Zero means the default.
	CheckpointInterval time.Duration
	// ReadWaitTimeout bounds how long a Scan waits for the log to be applied
	// up to its min_index before failing with DeadlineExceeded. Default 5s.
	ReadWaitTimeout time.Duration
	// ScanBatchRows is the maximum number of rows per Arrow record batch of a
	// Scan response. Default 1024.
	ScanBatchRows int
	// BlockCacheBytes is the size of Pebble's block cache, in bytes.
	// Default 512 MiB (Pebble's own default is 8 MiB, which makes every
	// table scan read and decompress its blocks again).
	BlockCacheBytes int64
	// CloseCheckpointTimeout bounds the final checkpoint Close takes.
	// Default 30s.
	CloseCheckpointTimeout time.Duration
	// Now is the clock used for manifest creation times. Default time.Now.
	Now func() time.Time
	// Logger receives the page server's logs. Default slog.Default().
	Logger *slog.Logger
	// Reporter, when set, is told the position of every checkpoint written
	// (after the manifest), bounded by ReportTimeout; its errors are logged
	// and retried at the next checkpoint. Default nil: no reports.
	Reporter ConsistencyReporter
	// NodeID names this page server in reports. Default "pageserver".
	NodeID string
	// ReportTimeout bounds one Reporter call. Default 5s.
	ReportTimeout time.Duration
	// Registerer, when set, receives the page server's Prometheus metrics
	// (phantom_pageserver_*), labelled node=NodeID. Default nil: metrics
	// are kept but not exported.
	Registerer prometheus.Registerer

	// Restore says how an empty disk is restored from the newest
	// checkpoint: RestoreLazy (the default) serves before every SST is
	// local, fetching the ones a read needs first; RestoreEager downloads
	// everything before New returns. An unfinished lazy restore found on
	// start always resumes lazily (and, with RestoreEager, New waits for it).
	Restore RestoreMode

	// Retention is how far back in time reads may go: a Scan whose read_ts
	// is older than Now() - Retention (measured on the commit_ts physical
	// part, ts >> 18 = unix ms) fails with FailedPrecondition, and version GC
	// drops what only such reads could see. Default 24h; negative keeps
	// every version and allows every read_ts.
	Retention time.Duration
	// GCInterval is the time between garbage collection runs (object store
	// and MVCC versions). Default 10m; negative disables the periodic run
	// (CollectObjects and CollectVersions still work on demand).
	GCInterval time.Duration
	// KeepCheckpoints is how many of the newest manifests object GC keeps;
	// older manifests and every object no kept manifest names are deleted.
	// Default 3; minimum 1.
	KeepCheckpoints int
	// GCMaxDeletes bounds the objects one CollectObjects call deletes.
	// Default 1000.
	GCMaxDeletes int
	// GCMaxVersions bounds the versions one CollectVersions call visits
	// (it stops at the next key boundary); the next call resumes there.
	// Default 100000.
	GCMaxVersions int

	// TestCheckpointPause is a TEST HOOK, never set in production: a
	// checkpoint sleeps this long after uploading each file (before the
	// manifest), so crash tests can SIGKILL the process mid-upload. Zero
	// means no pause; EnsureDefaults reads it from the environment variable
	// PHANTOM_TEST_CHECKPOINT_PAUSE (a Go duration) when unset.
	TestCheckpointPause time.Duration
}

// TestCheckpointPauseEnv is the environment variable EnsureDefaults reads
// Config.TestCheckpointPause from (test hook; see that field).
const TestCheckpointPauseEnv = "PHANTOM_TEST_CHECKPOINT_PAUSE"

// EnsureDefaults fills unset fields with their defaults.
func (c *Config) EnsureDefaults() {
	if c.CheckpointInterval == 0 {
		c.CheckpointInterval = DefaultCheckpointInterval
	}
	if c.ReadWaitTimeout <= 0 {
		c.ReadWaitTimeout = DefaultReadWaitTimeout
	}
	if c.BlockCacheBytes <= 0 {
		c.BlockCacheBytes = DefaultBlockCacheBytes
	}
	if c.ScanBatchRows <= 0 {
		c.ScanBatchRows = DefaultScanBatchRows
	}
	if c.CloseCheckpointTimeout <= 0 {
		c.CloseCheckpointTimeout = DefaultCloseCheckpointTimeout
	}
	if c.NodeID == "" {
		c.NodeID = DefaultNodeID
	}
	if c.ReportTimeout <= 0 {
		c.ReportTimeout = DefaultReportTimeout
	}
	if c.Restore == "" {
		c.Restore = RestoreLazy
	}
	if c.Retention == 0 {
		c.Retention = DefaultRetention
	}
	if c.GCInterval == 0 {
		c.GCInterval = DefaultGCInterval
	}
	if c.KeepCheckpoints <= 0 {
		c.KeepCheckpoints = DefaultKeepCheckpoints
	}
	if c.GCMaxDeletes <= 0 {
		c.GCMaxDeletes = DefaultGCMaxDeletes
	}
	if c.GCMaxVersions <= 0 {
		c.GCMaxVersions = DefaultGCMaxVersions
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.TestCheckpointPause == 0 {
		if d, err := time.ParseDuration(os.Getenv(TestCheckpointPauseEnv)); err == nil && d > 0 {
			c.TestCheckpointPause = d
		}
	}
}

// Validate reports a configuration the page server cannot run with. It
// expects EnsureDefaults to have run.
func (c *Config) Validate() error {
	var errs []error
	if c.DataDir == "" {
		errs = append(errs, errors.New("DataDir is required"))
	}
	if c.Log == nil {
		errs = append(errs, errors.New("Log is required"))
	}
	if c.Store == nil {
		errs = append(errs, errors.New("Store is required"))
	}
	if c.Prefix != "" && c.Prefix[len(c.Prefix)-1] != '/' {
		errs = append(errs, fmt.Errorf("Prefix %q must end in /", c.Prefix))
	}
	if c.ReadWaitTimeout <= 0 || c.ScanBatchRows <= 0 || c.CloseCheckpointTimeout <= 0 {
		errs = append(errs, errors.New("ReadWaitTimeout, ScanBatchRows and CloseCheckpointTimeout must be positive (run EnsureDefaults)"))
	}
	if _, err := ParseRestoreMode(string(c.Restore)); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	return nil
}
