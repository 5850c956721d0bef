// Package timeline owns the records that make a branch: a timeline record
// (stored at keys.TimelineKey(B)) saying which timeline B reads below its
// fork timestamp, and a branch record (keys.BranchKey(D, name)) naming
// timeline B as branch `name` of database D.
//
// Both are ordinary rows committed through the log service, so the page
// server learns timelines by applying the log, checkpoints carry them, and
// a compute node resolves a branch name by reading at its snapshot.
//
// Invariants: timeline ids come from the same counter as database ids and
// are never reused; a timeline record never changes after it is written (it
// is only deleted with its branch); a timeline's parent is created before it
// and deleted after it.
package timeline

import (
	"encoding/json"
	"errors"
	"fmt"
)

// ErrCorrupt is wrapped when a record cannot be decoded.
var ErrCorrupt = errors.New("timeline: corrupt record")

// Timeline is the value of a timeline record: timeline ID reads Parent's
// keys (re-rooted from /db/<Parent>/ to /db/<ID>/) at min(read_ts, ForkTS)
// wherever it has no version of its own.
type Timeline struct {
	ID     uint64 `json:"-"`
	Parent uint64 `json:"parent"`
	ForkTS uint64 `json:"fork_ts"`
}

// Encode returns the stored value of t (ID is in the key).
func (t Timeline) Encode() []byte {
	b, _ := json.Marshal(t) // cannot fail: two integers
	return b
}

// DecodeTimeline decodes the value of timeline id's record.
func DecodeTimeline(id uint64, v []byte) (Timeline, error) {
	var t Timeline
	if err := json.Unmarshal(v, &t); err != nil {
		return Timeline{}, fmt.Errorf("%w: timeline %d: %v", ErrCorrupt, id, err)
	}
	if t.Parent == 0 || t.Parent == id {
		return Timeline{}, fmt.Errorf("%w: timeline %d has parent %d", ErrCorrupt, id, t.Parent)
	}
	t.ID = id
	return t, nil
}

// Branch is the value of a branch record of database Database.
type Branch struct {
	Name     string `json:"name"`
	Database uint64 `json:"database"`
	// ID is the branch's timeline id: its rows live under /db/<ID>/.
	ID uint64 `json:"id"`
	// Parent names the parent branch ("main": the database itself).
	Parent string `json:"parent"`
	// ParentID is the parent's timeline id.
	ParentID uint64 `json:"parent_id"`
	// ForkTS is the hybrid timestamp the branch forked at.
	ForkTS uint64 `json:"fork_ts"`
}

// Encode returns the stored value of b.
func (b Branch) Encode() []byte {
	v, _ := json.Marshal(b) // cannot fail: strings and integers
	return v
}

// DecodeBranch decodes a branch record.
func DecodeBranch(v []byte) (Branch, error) {
	var b Branch
	if err := json.Unmarshal(v, &b); err != nil {
		return Branch{}, fmt.Errorf("%w: branch: %v", ErrCorrupt, err)
	}
	if b.ID == 0 || b.ParentID == 0 {
		return Branch{}, fmt.Errorf("%w: branch %q has id %d, parent %d", ErrCorrupt, b.Name, b.ID, b.ParentID)
	}
	return b, nil
}
