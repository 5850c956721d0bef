package raftnode

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
)

func TestHCLogAdapter(t *testing.T) {
	var buf bytes.Buffer
	l := NewHCLog(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo})), "raft")
	l.Debug("hidden")
	l.Named("wal").With("segment", 3).Warn("rotated", "index", 9)
	out := buf.String()
	if strings.Contains(out, "hidden") {
		t.Fatalf("debug line passed an info handler: %s", out)
	}
	for _, want := range []string{"level=WARN", "msg=rotated", "logger=raft.wal", "segment=3", "index=9"} {
		if !strings.Contains(out, want) {
			t.Fatalf("missing %q in %q", want, out)
		}
	}
	if strings.Count(out, "logger=") != 1 {
		t.Fatalf("logger name repeated: %q", out)
	}
	if l.IsDebug() || !l.IsInfo() || l.GetLevel() != hclog.Info {
		t.Fatalf("levels: debug=%v info=%v level=%v", l.IsDebug(), l.IsInfo(), l.GetLevel())
	}
	l.SetLevel(hclog.Error)
	buf.Reset()
	l.Warn("filtered")
	if buf.Len() != 0 {
		t.Fatalf("SetLevel(Error) let a warning through: %q", buf.String())
	}
}
