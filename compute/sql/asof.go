package sql

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/phantom-db/phantom/compute/sql/sqlerr"
	"github.com/phantom-db/phantom/compute/storage"
)

// Time travel: while the session setting phantom.as_of is set, every
// statement reads at that timestamp and writes answer 25006. See DESIGN.md.

const (
	// settingAsOf is the session setting naming the timestamp statements
	// read at; empty reads the present.
	settingAsOf = "phantom.as_of"
	// settingLastCommitTS shows the commit timestamp of the session's last
	// committed read-write transaction (read only).
	settingLastCommitTS = "phantom.last_commit_ts"
	// logicalBits is the width of the logical counter of a hybrid timestamp
	// (ts = physical_ms << logicalBits | logical), as logservice.LogicalBits.
	logicalBits = 18
)

// ParseAsOf parses a time travel target: an RFC 3339 timestamp
// ("2026-12-02T00:30:00Z", fractions allowed) or a raw hybrid timestamp
// (physical_ms << 18 | logical, as SHOW phantom.last_commit_ts prints it).
// An RFC 3339 time T means every commit whose commit timestamp's wall-clock
// millisecond is at or before T's: the largest hybrid timestamp of T's
// millisecond. Anything else answers 22023.
func ParseAsOf(v string) (uint64, error) {
	v = strings.TrimSpace(v)
	if n, err := strconv.ParseUint(v, 10, 64); err == nil {
		return n, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return 0, errAsOf(v, "want an RFC 3339 timestamp (2026-12-02T00:30:00Z) or a hybrid timestamp number")
	}
	ms := t.UnixMilli()
	if ms <= 0 {
		return 0, errAsOf(v, "time is before 1970")
	}
	return uint64(ms)<<logicalBits | (1<<logicalBits - 1), nil
}

func errAsOf(v, why string) error {
	return sqlerr.New(sqlerr.CodeInvalidParameterValue, "invalid value for parameter %q: %q: %s", settingAsOf, v, why)
}

// FormatHybridTS renders a hybrid timestamp's wall-clock part as RFC 3339
// (UTC, milliseconds).
func FormatHybridTS(ts uint64) string {
	return time.UnixMilli(int64(ts >> logicalBits)).UTC().Format("2006-01-02T15:04:05.000Z07:00")
}

// asOf returns the session's time travel timestamp; ok is false when
// phantom.as_of is not set.
func (s *Session) asOf() (ts uint64, ok bool) {
	v := s.setting(settingAsOf)
	if v == "" {
		return 0, false
	}
	ts, err := ParseAsOf(v)
	if err != nil {
		return 0, false // validated by SET; unreachable
	}
	return ts, true
}

// snapshot takes the snapshot a statement reads at: a fresh one, or, with
// phantom.as_of set, {TS: as_of, MinIndex: the fresh snapshot's}. The fresh
// snapshot's index covers every commit with commit_ts <= its TS, and so
// every commit <= as_of, which must not be in the future (22023).
func (s *Session) snapshot(ctx context.Context) (storage.Snapshot, error) {
	snap, err := s.e.cfg.KV.Begin(ctx)
	if err != nil {
		return storage.Snapshot{}, fmt.Errorf("sql: begin: %w", err)
	}
	ts, ok := s.asOf()
	if !ok {
		return snap, nil
	}
	if ts > snap.TS {
		return storage.Snapshot{}, sqlerr.New(sqlerr.CodeInvalidParameterValue,
			"%s %d (%s) is in the future: the newest timestamp is %d (%s)",
			settingAsOf, ts, FormatHybridTS(ts), snap.TS, FormatHybridTS(snap.TS)).
			WithHint("time travel reads the past; RESET phantom.as_of reads the present")
	}
	return storage.Snapshot{TS: ts, MinIndex: snap.MinIndex}, nil
}

// errTimeTravelWrite answers a write while phantom.as_of is set.
func errTimeTravelWrite(cmd string) error {
	return &sqlerr.Error{Code: sqlerr.CodeReadOnlyTransaction,
		Message: fmt.Sprintf("cannot execute %s in a read-only transaction", cmd),
		Detail:  "phantom.as_of is set: time travel reads are read-only",
		Hint:    "RESET phantom.as_of to write"}
}

// mapSnapshotTooOld turns a storage.ErrSnapshotTooOld (a read below the page
// server's retention window) into SQLSTATE 72000, keeping the page
// server's message; other errors pass unchanged.
func mapSnapshotTooOld(err error) error {
	if err == nil || sqlerr.As(err) != nil || !errors.Is(err, storage.ErrSnapshotTooOld) {
		return err
	}
	msg := err.Error()
	if i := strings.Index(msg, storage.ErrSnapshotTooOld.Error()); i >= 0 {
		msg = msg[i+len(storage.ErrSnapshotTooOld.Error()):]
	}
	// The page server's message repeats its sentinel's text before the
	// details; keep the details.
	msg = strings.TrimPrefix(strings.TrimPrefix(msg, ": "), "pageserver: ")
	msg = strings.TrimPrefix(msg, "read timestamp is older than the retention window: ")
	return &sqlerr.Error{Code: sqlerr.CodeSnapshotTooOld, Message: "snapshot too old: " + msg,
		Hint: "time travel reaches back as far as the page server's retention window (--retention)"}
}
