package pgwire

import (
	"encoding/binary"
	"testing"

	"github.com/phantom-db/phantom/compute/sql/types"
)

// FuzzArrayBinaryParam: a binary array parameter never panics the
// decoder; what it accepts is text the engine's array input reads.
func FuzzArrayBinaryParam(f *testing.F) {
	one := binary.BigEndian.AppendUint32(nil, 1)
	seed := append(append(append([]byte{}, one...), 0, 0, 0, 0, 0, 0, 0, 23), one...)
	seed = append(append(seed, one...), 0, 0, 0, 4, 0, 0, 0, 7)
	f.Add(seed)
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 23})
	f.Add([]byte{0, 0, 0, 1})
	f.Fuzz(func(t *testing.T, raw []byte) {
		for _, typ := range []string{"_int4", "_text", "_numeric"} {
			v, err := decodeArrayBinary(raw, typ, 1)
			if err != nil {
				continue
			}
			at, _ := types.FromName(typ)
			if _, err := types.ParseArray(types.Text, v.(string)); err != nil {
				t.Fatalf("decoded %x (%s) to %q, which does not parse as an array: %v", raw, at, v, err)
			}
		}
	})
}
