package logservice

import "time"

// LogicalBits is the width of the logical counter in a hybrid timestamp:
// ts = physical_ms << LogicalBits | logical.
const LogicalBits = 18

// TimestampAt returns the smallest hybrid timestamp of wall-clock time t.
func TimestampAt(t time.Time) uint64 {
	return uint64(t.UnixMilli()) << LogicalBits
}

// PhysicalTime returns the wall-clock millisecond of a hybrid timestamp.
func PhysicalTime(ts uint64) time.Time {
	return time.UnixMilli(int64(ts >> LogicalBits))
}

// durationTS converts a duration to hybrid timestamp units.
func durationTS(d time.Duration) uint64 {
	return uint64(d.Milliseconds()) << LogicalBits
}

// tsoState is the leader's in-memory timestamp oracle. Every timestamp it
// hands out is <= limit, and limit is a high-water mark already committed
// through Raft, so a later leader (which starts above the newest committed
// high-water mark) never hands out a smaller one.
type tsoState struct {
	// last is the newest timestamp handed out (or the floor to start above).
	last uint64
	// limit is the newest committed high-water mark of this leadership term.
	limit uint64
}

// next returns the first of n consecutive timestamps above last and not
// below now, and whether the high-water mark must move first.
func (t *tsoState) next(n uint32, now uint64) (first, end uint64, needHWM bool) {
	first = max(t.last+1, now)
	end = first + uint64(n) - 1
	return first, end, end > t.limit
}
