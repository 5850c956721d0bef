package dbgen

import (
	"bytes"
	"testing"
)

// upstreamTextPool is go-tpc's original pool builder, the reference for
// buildTextPool.
func upstreamTextPool(size int) []byte {
	var buffer bytes.Buffer
	for buffer.Len() < size {
		sentence := txtSentence(textPoolStream)
		n := len(sentence)
		needed := size - buffer.Len()
		if needed >= n+1 {
			buffer.WriteString(sentence + " ")
		} else {
			buffer.WriteString(sentence[0:needed])
		}
	}
	return buffer.Bytes()
}

// TestTextPoolMatchesUpstream builds 4 MB of the pool both ways from the
// same seeds and requires the same bytes and the same stream state after.
func TestTextPoolMatchesUpstream(t *testing.T) {
	const size = 4 << 20
	initSeeds()
	initDists()
	want := upstreamTextPool(size)
	wantSeed := seeds[textPoolStream]

	initSeeds()
	initDists()
	got := buildTextPool(size)
	if !bytes.Equal(got, want) {
		i := 0
		for i < len(got) && i < len(want) && got[i] == want[i] {
			i++
		}
		t.Fatalf("pools differ at byte %d (lengths %d, %d)", i, len(got), len(want))
	}
	if seeds[textPoolStream] != wantSeed {
		t.Fatalf("stream state %+v after, upstream %+v", seeds[textPoolStream], wantSeed)
	}
}
