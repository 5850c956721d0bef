package pageserver

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// MVCC key layout in Pebble (the default bytewise comparer, no Split):
//
//	versioned key = escape(userKey) 0x00 0x01 bigEndian(^commitTS)
//	escape: every 0x00 byte of the user key becomes 0x00 0xFF
//
// Escaping plus the 0x00 0x01 terminator keeps the bytewise order of
// versioned keys equal to (userKey ascending, commitTS descending): a user
// key that is a prefix of another ends in 0x00 0x01, which sorts before the
// 0x00 0xFF escape or any other byte the longer key continues with. Within
// one user key ^commitTS makes the newest version sort first.
//
// An encoded user key never contains 0x00 followed by anything but 0x01 or
// 0xFF, so keys starting with 0x00 0x00 are reserved for page server
// metadata (metaPrefix) and sort before every user key.
const (
	escByte   = 0x00
	escEscape = 0xFF // 0x00 in a user key is written 0x00 0xFF
	escTerm   = 0x01 // the user key ends with 0x00 0x01
	tsLen     = 8
)

// Value kinds: the first byte of every versioned value.
const (
	kindPut       byte = 1
	kindTombstone byte = 2
)

// metaPrefix starts every metadata key; no versioned key can start with it.
var metaPrefix = []byte{0x00, 0x00}

// metaAppliedKey holds the applied position: bigEndian(index) bigEndian(ts).
var metaAppliedKey = append(append([]byte(nil), metaPrefix...), "applied"...)

// errBadKey is returned for bytes that are not a versioned key.
var errBadKey = errors.New("pageserver: malformed versioned key")

// appendUserKeyPrefix appends escape(userKey) + terminator to dst: the
// common prefix of every version of userKey.
func appendUserKeyPrefix(dst, userKey []byte) []byte {
	for _, b := range userKey {
		if b == escByte {
			dst = append(dst, escByte, escEscape)
			continue
		}
		dst = append(dst, b)
	}
	return append(dst, escByte, escTerm)
}

// encodeVersionedKey returns the Pebble key of userKey's version at commitTS.
func encodeVersionedKey(userKey []byte, commitTS uint64) []byte {
	k := appendUserKeyPrefix(make([]byte, 0, len(userKey)+2+tsLen), userKey)
	return appendTS(k, commitTS)
}

// appendTS appends the version suffix of commitTS to dst.
func appendTS(dst []byte, commitTS uint64) []byte {
	return binary.BigEndian.AppendUint64(dst, ^commitTS)
}

// splitVersionedKey splits a versioned key into its user key prefix
// (escaped key + terminator) and commit timestamp.
func splitVersionedKey(k []byte) (prefix []byte, commitTS uint64, err error) {
	if len(k) < 2+tsLen {
		return nil, 0, fmt.Errorf("%w: %x is too short", errBadKey, k)
	}
	prefix = k[:len(k)-tsLen]
	if prefix[len(prefix)-2] != escByte || prefix[len(prefix)-1] != escTerm {
		return nil, 0, fmt.Errorf("%w: %x has no terminator", errBadKey, k)
	}
	return prefix, ^binary.BigEndian.Uint64(k[len(k)-tsLen:]), nil
}

// appendDecodedUserKey appends the user key of prefix (as returned by
// splitVersionedKey) to dst.
func appendDecodedUserKey(dst, prefix []byte) ([]byte, error) {
	body := prefix[:len(prefix)-2]
	for i := 0; i < len(body); i++ {
		b := body[i]
		if b != escByte {
			dst = append(dst, b)
			continue
		}
		if i+1 >= len(body) || body[i+1] != escEscape {
			return nil, fmt.Errorf("%w: bad escape in %x", errBadKey, prefix)
		}
		dst = append(dst, escByte)
		i++
	}
	return dst, nil
}

// appendNextUserKeyPrefix appends to dst the smallest key greater than every
// versioned key with the given user key prefix and smaller than every
// versioned key of a greater user key: the terminator 0x00 0x01 becomes
// 0x00 0x02, which no encoded user key contains.
func appendNextUserKeyPrefix(dst, prefix []byte) []byte {
	dst = append(dst, prefix...)
	dst[len(dst)-1] = escTerm + 1
	return dst
}

// encodeApplied encodes the applied position stored at metaAppliedKey.
func encodeApplied(index, ts uint64) []byte {
	v := binary.BigEndian.AppendUint64(make([]byte, 0, 16), index)
	return binary.BigEndian.AppendUint64(v, ts)
}

// decodeApplied decodes the value stored at metaAppliedKey.
func decodeApplied(v []byte) (index, ts uint64, err error) {
	if len(v) != 16 {
		return 0, 0, fmt.Errorf("pageserver: applied position has %d bytes, want 16", len(v))
	}
	return binary.BigEndian.Uint64(v[:8]), binary.BigEndian.Uint64(v[8:]), nil
}
