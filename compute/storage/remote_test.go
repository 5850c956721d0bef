package storage

import (
	"errors"
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
