package storage

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestClassifyScan(t *testing.T) {
	err := classifyScan(status.Error(codes.FailedPrecondition, "pageserver: read timestamp is older than the retention window"))
	if !errors.Is(err, ErrSnapshotTooOld) || errors.Is(err, ErrUnavailable) ||
		err.Error() != "storage: snapshot too old: pageserver: read timestamp is older than the retention window" {
		t.Fatalf("FailedPrecondition: %v", err)
	}
	err = classifyScan(status.Error(codes.Unavailable, "down"))
	if !errors.Is(err, ErrUnavailable) || errors.Is(err, ErrSnapshotTooOld) || !strings.Contains(err.Error(), "down") {
		t.Fatalf("Unavailable: %v", err)
	}
}

func TestClassifyCommitTooLarge(t *testing.T) {
	err := classifyCommit(fmt.Errorf("logclient: commit: %w", status.Error(codes.ResourceExhausted, "grpc: received message larger than max (72000567 vs. 67108864)")), 8)
	if !errors.Is(err, ErrTooLarge) || errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "larger than max") {
		t.Fatalf("ResourceExhausted: %v", err)
	}
	if err := classifyCommit(status.Error(codes.Unavailable, "down"), 1); !errors.Is(err, ErrUnavailable) || errors.Is(err, ErrTooLarge) {
		t.Fatalf("Unavailable: %v", err)
	}
}
