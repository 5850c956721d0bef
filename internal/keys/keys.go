// Package keys owns the order-preserving ("memcomparable") encoding of SQL
// values into KV keys and the layout of the key space.
//
// # Value encoding
//
// A key is a tuple: a sequence of components, each a one-byte tag followed by
// a payload. Comparing two encoded tuples with bytes.Compare gives the same
// order as comparing the value tuples component by component, provided the
// components at the same position have the same kind (SQL columns have a
// fixed type, so they do).
//
//	tag  kind     payload
//	0x01 NULL     none (sorts before every non-NULL value)
//	0x02 false    none
//	0x03 true     none
//	0x10 int      8 bytes big-endian two's complement with the sign bit
//	              flipped (int4 and int8 share it: equal values encode equally)
//	0x18 uint     8 bytes big-endian (internal ids: databases, tables)
//	0x28 decimal  exact decimal (NUMERIC, interval spans); see AppendDecimal
//	0x20 float    8 bytes: IEEE-754 bits big-endian; for v >= 0 the sign bit
//	              is flipped, for v < 0 all bits are flipped. -0 is encoded as
//	              +0 and every NaN as one canonical NaN that sorts after +Inf
//	              (as in PostgreSQL).
//	0x30 string   bytes with 0x00 escaped as 0x00 0xFF, terminated by 0x00 0x01
//	0x31 bytes    same as string
//
// The escape keeps prefix order: "a" (61 00 01) < "a\x00" (61 00 FF 00 01)
// < "ab" (61 62 00 01).
//
// # Key layout
//
// Everything of database D lives under the tuple ("db", uint D):
//
//	/db/<D>/t/<T>/<pk...>            a row of table id T: ("db", D, "t", uint T, pk columns...)
//	/db/<D>/catalog/tables/<name>    a table descriptor: ("db", D, "catalog", "tables", name)
//	/db/<D>/catalog/next_id          the next table id: ("db", D, "catalog", "next_id")
//
// Table ids are never reused, so a dropped table's rows are unreachable
// garbage until a later GC deletes its /db/<D>/t/<T>/ range.
package keys

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// ErrCorrupt is wrapped by decode errors on malformed keys.
var ErrCorrupt = errors.New("keys: corrupt key")

// Component tags; see the package comment.
const (
	tagNull   = 0x01
	tagFalse  = 0x02
	tagTrue   = 0x03
	tagInt    = 0x10
	tagUint   = 0x18
	tagFloat  = 0x20
	tagString = 0x30
	tagBytes  = 0x31
)

// AppendNull appends an encoded NULL.
func AppendNull(b []byte) []byte { return append(b, tagNull) }

// AppendBool appends an encoded boolean (false < true).
func AppendBool(b []byte, v bool) []byte {
	if v {
		return append(b, tagTrue)
	}
	return append(b, tagFalse)
}

// AppendInt appends an encoded signed integer.
func AppendInt(b []byte, v int64) []byte {
	b = append(b, tagInt)
	return binary.BigEndian.AppendUint64(b, uint64(v)^(1<<63))
}

// AppendUint appends an encoded unsigned integer.
func AppendUint(b []byte, v uint64) []byte {
	b = append(b, tagUint)
	return binary.BigEndian.AppendUint64(b, v)
}

// canonicalNaN is the bit pattern every NaN is encoded as.
const canonicalNaN = 0x7FF8000000000001

// AppendFloat appends an encoded float64.
func AppendFloat(b []byte, v float64) []byte {
	var bits uint64
	switch {
	case math.IsNaN(v):
		bits = canonicalNaN
	case v == 0:
		bits = 0 // folds -0 into +0
	default:
		bits = math.Float64bits(v)
	}
	if bits&(1<<63) != 0 {
		bits = ^bits
	} else {
		bits ^= 1 << 63
	}
	b = append(b, tagFloat)
	return binary.BigEndian.AppendUint64(b, bits)
}

// AppendString appends an encoded string.
func AppendString(b []byte, s string) []byte {
	b = append(b, tagString)
	return appendEscaped(b, s)
}

// AppendBytes appends an encoded byte string.
func AppendBytes(b []byte, v []byte) []byte {
	b = append(b, tagBytes)
	return appendEscaped(b, string(v))
}

func appendEscaped(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if s[i] == 0 {
			b = append(b, 0x00, 0xFF)
		} else {
			b = append(b, s[i])
		}
	}
	return append(b, 0x00, 0x01)
}

// Decode decodes the first component of b and returns its value and the rest
// of b. Values are nil (NULL), bool, int64, uint64, float64, string,
// []byte or Decimal.
func Decode(b []byte) (v any, rest []byte, err error) {
	if len(b) == 0 {
		return nil, nil, fmt.Errorf("%w: empty component", ErrCorrupt)
	}
	tag, b := b[0], b[1:]
	switch tag {
	case tagNull:
		return nil, b, nil
	case tagFalse:
		return false, b, nil
	case tagTrue:
		return true, b, nil
	case tagInt, tagUint, tagFloat:
		if len(b) < 8 {
			return nil, nil, fmt.Errorf("%w: short fixed-width component", ErrCorrupt)
		}
		u := binary.BigEndian.Uint64(b)
		switch tag {
		case tagInt:
			return int64(u ^ (1 << 63)), b[8:], nil
		case tagUint:
			return u, b[8:], nil
		}
		if u&(1<<63) != 0 {
			u ^= 1 << 63
		} else {
			u = ^u
		}
		return math.Float64frombits(u), b[8:], nil
	case tagDecimal:
		return decodeDecimal(b)
	case tagString, tagBytes:
		var out []byte
		for i := 0; ; i++ {
			if i >= len(b) {
				return nil, nil, fmt.Errorf("%w: unterminated string", ErrCorrupt)
			}
			if b[i] != 0 {
				out = append(out, b[i])
				continue
			}
			if i+1 >= len(b) {
				return nil, nil, fmt.Errorf("%w: truncated escape", ErrCorrupt)
			}
			switch b[i+1] {
			case 0xFF:
				out = append(out, 0)
				i++
			case 0x01:
				if tag == tagString {
					return string(out), b[i+2:], nil
				}
				if out == nil {
					out = []byte{}
				}
				return out, b[i+2:], nil
			default:
				return nil, nil, fmt.Errorf("%w: bad escape 0x%02x", ErrCorrupt, b[i+1])
			}
		}
	default:
		return nil, nil, fmt.Errorf("%w: unknown tag 0x%02x", ErrCorrupt, tag)
	}
}

// DecodeTuple decodes every component of b.
func DecodeTuple(b []byte) ([]any, error) {
	var out []any
	for len(b) > 0 {
		v, rest, err := Decode(b)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
		b = rest
	}
	return out, nil
}

// DatabasePrefix is the prefix of every key of database db.
func DatabasePrefix(db uint64) []byte {
	return AppendUint(AppendString(nil, "db"), db)
}

// TablePrefix is the prefix of every row key of table id table in database db.
// A row key is TablePrefix followed by the encoded primary-key columns.
func TablePrefix(db, table uint64) []byte {
	return AppendUint(AppendString(DatabasePrefix(db), "t"), table)
}

// tablePrefixLen is the length of TablePrefix(db, table) for any ids:
// the database prefix, the "t" string (tag, 1 byte, terminator) and a uint.
const tablePrefixLen = dbPrefixLen + 4 + 9

// ParseTableKey returns the database and table ids of a key that starts
// with a TablePrefix (a row key, or the prefix itself).
func ParseTableKey(k []byte) (db, table uint64, ok bool) {
	if len(k) < tablePrefixLen || string(k[:5]) != "\x30db\x00\x01" || k[5] != tagUint ||
		string(k[dbPrefixLen:dbPrefixLen+4]) != "\x30t\x00\x01" || k[dbPrefixLen+4] != tagUint {
		return 0, 0, false
	}
	return binary.BigEndian.Uint64(k[6:dbPrefixLen]), binary.BigEndian.Uint64(k[dbPrefixLen+5 : tablePrefixLen]), true
}

// CatalogTablesPrefix is the prefix of every table descriptor key of db.
func CatalogTablesPrefix(db uint64) []byte {
	return AppendString(AppendString(DatabasePrefix(db), "catalog"), "tables")
}

// TableDescriptorKey is the key of the descriptor of table name in db.
func TableDescriptorKey(db uint64, name string) []byte {
	return AppendString(CatalogTablesPrefix(db), name)
}

// NextTableIDKey is the key of db's table-id counter.
func NextTableIDKey(db uint64) []byte {
	return AppendString(AppendString(DatabasePrefix(db), "catalog"), "next_id")
}

// PrefixEnd returns the smallest key greater than every key with the given
// prefix, or nil (no upper bound) when prefix is empty or all 0xFF.
func PrefixEnd(prefix []byte) []byte {
	end := append([]byte(nil), prefix...)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] != 0xFF {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}

// Next returns the smallest key greater than key (key followed by 0x00); a
// scan over [key, Next(key)) reads exactly key.
func Next(key []byte) []byte {
	out := make([]byte, len(key)+1)
	copy(out, key)
	return out
}

// Branches and timelines live outside every database, under ("sys", ...):
//
//	/sys/timeline/<B>         ("sys", "timeline", uint B): timeline B's parent
//	                          timeline and fork timestamp (internal/timeline)
//	/sys/branch/<D>/<name>    ("sys", "branch", uint D, name): the branch name
//	                          of database D, its timeline id B and parent
//
// A branch's own rows live under /db/<B>/... like a database's; the page
// server resolves the keys it lacks in its parent below the fork timestamp.

// dbPrefixLen is the length of DatabasePrefix(id) for any id.
const dbPrefixLen = 5 + 9 // "db" string (tag, 2 bytes, terminator) + uint

// TimelinesPrefix is the prefix of every timeline record.
func TimelinesPrefix() []byte {
	return AppendString(AppendString(nil, "sys"), "timeline")
}

// TimelineKey is the key of timeline id's record.
func TimelineKey(id uint64) []byte {
	return AppendUint(TimelinesPrefix(), id)
}

// timelinesPrefix is TimelinesPrefix, computed once: ParseTimelineKey runs
// for every applied mutation.
var timelinesPrefix = TimelinesPrefix()

// ParseTimelineKey returns the timeline id of a TimelineKey.
func ParseTimelineKey(k []byte) (uint64, bool) {
	p := timelinesPrefix
	if len(k) != len(p)+9 || string(k[:len(p)]) != string(p) || k[len(p)] != tagUint {
		return 0, false
	}
	return binary.BigEndian.Uint64(k[len(p)+1:]), true
}

// BranchesPrefix is the prefix of the branch name records of database db.
func BranchesPrefix(db uint64) []byte {
	return AppendUint(AppendString(AppendString(nil, "sys"), "branch"), db)
}

// BranchKey is the key of branch name of database db.
func BranchKey(db uint64, name string) []byte {
	return AppendString(BranchesPrefix(db), name)
}

// SplitDatabaseKey splits a key under DatabasePrefix(id) into id and the
// rest of the key; ok is false for any other key.
func SplitDatabaseKey(k []byte) (id uint64, rest []byte, ok bool) {
	if len(k) < dbPrefixLen || string(k[:5]) != "\x30db\x00\x01" || k[5] != tagUint {
		return 0, nil, false
	}
	return binary.BigEndian.Uint64(k[6:dbPrefixLen]), k[dbPrefixLen:], true
}
