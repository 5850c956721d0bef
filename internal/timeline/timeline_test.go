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

// FuzzDecode: records come from the log; a corrupt one must be an error,
// never a panic, and what decodes must re-encode to an equal record.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(Timeline{Parent: 1, ForkTS: 2}.Encode()))
	f.Add([]byte(Branch{Name: "dev", Database: 1, ID: 2, Parent: "main", ParentID: 1, ForkTS: 3}.Encode()))
	f.Add([]byte(`{"parent":1e30}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if tl, err := DecodeTimeline(9, b); err == nil {
			if again, err := DecodeTimeline(9, tl.Encode()); err != nil || again != tl {
				t.Fatalf("timeline %+v re-decodes as %+v, %v", tl, again, err)
			}
		}
		if br, err := DecodeBranch(b); err == nil {
			if again, err := DecodeBranch(br.Encode()); err != nil || again != br {
				t.Fatalf("branch %+v re-decodes as %+v, %v", br, again, err)
			}
		}
	})
}
