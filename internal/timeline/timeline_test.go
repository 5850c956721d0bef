package timeline

import (
	"errors"
	"testing"
)

func TestTimelineRoundTrip(t *testing.T) {
	in := Timeline{ID: 7, Parent: 1, ForkTS: 123 << 18}
	out, err := DecodeTimeline(7, in.Encode())
	if err != nil || out != in {
		t.Fatalf("DecodeTimeline = %+v, %v; want %+v", out, err, in)
	}
	for _, bad := range []string{"", "{", `{"parent":0,"fork_ts":1}`, `{"parent":7,"fork_ts":1}`} {
		if _, err := DecodeTimeline(7, []byte(bad)); !errors.Is(err, ErrCorrupt) {
			t.Errorf("DecodeTimeline(%q) err = %v, want ErrCorrupt", bad, err)
		}
	}
}

func TestBranchRoundTrip(t *testing.T) {
	in := Branch{Name: "dev", Database: 1, ID: 9, Parent: "main", ParentID: 1, ForkTS: 5}
	out, err := DecodeBranch(in.Encode())
	if err != nil || out != in {
		t.Fatalf("DecodeBranch = %+v, %v; want %+v", out, err, in)
	}
	if _, err := DecodeBranch([]byte(`{"name":"x"}`)); !errors.Is(err, ErrCorrupt) {
		t.Errorf("DecodeBranch without ids: err = %v", err)
	}
}
