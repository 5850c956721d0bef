package pgwire

import (
	"testing"
)

// FuzzCopyRecords feeds arbitrary COPY data to the record splitter and the
// text and CSV field decoders: they must not panic, and a value encoded by
// the COPY TO encoder must decode to itself.
func FuzzCopyRecords(f *testing.F) {
	for _, s := range []string{"1\tx\n", "1,\"a,\nb\"\n2,\n", `a\tb\\c\x41\101\N`, "\"\"\"\",\"\"\n", "\\.\n", "\r\n", "\"unterminated"} {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
	f.Fuzz(func(t *testing.T, data []byte, csv bool) {
		o := copyOptions{delimiter: '\t', null: `\N`, quote: '"', escape: '"'}
		if csv {
			o.csv, o.delimiter, o.null = true, ',', ""
		}
		ld := &copyLoader{o: o, buf: append([]byte(nil), data...)}
		for {
			end := ld.recordEnd()
			if end < 0 {
				break
			}
			if end >= len(ld.buf) || ld.buf[end] != '\n' {
				t.Fatalf("recordEnd %d is not a newline in %q", end, ld.buf)
			}
			if o.csv {
				_, _ = o.splitCSV(ld.buf[:end])
			} else {
				_, _ = o.splitText(ld.buf[:end])
			}
			ld.buf = ld.buf[end+1:]
		}
		// Round trip: one field holding data, encoded then decoded.
		enc := o.appendField(nil, data, true)
		var fields []*string
		var err error
		if o.csv {
			fields, err = o.splitCSV(enc)
		} else {
			fields, err = o.splitText(enc)
		}
		if err != nil || len(fields) != 1 || fields[0] == nil || *fields[0] != string(data) {
			t.Fatalf("round trip of %q through %q: %v %v", data, enc, fields, err)
		}
	})
}
