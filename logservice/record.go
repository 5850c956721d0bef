package logservice

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/phantom-db/phantom/internal/wirepb"
)

// ErrCorruptRecord reports a Raft entry that does not decode as a record.
var ErrCorruptRecord = errors.New("logservice: corrupt log record")

// recordKind is the first byte of every Raft command this package writes.
// New kinds get new values; existing encodings never change.
type recordKind byte

const (
	// kindCommit: uvarint start_ts, uvarint commit_ts, uvarint count, then
	// count mutations of (flags byte, uvarint key len, key, uvarint value
	// len, value); flags bit 0 = delete.
	kindCommit recordKind = 1
	// kindHWM: uvarint high-water mark timestamp.
	kindHWM recordKind = 2
	// kindCommitReads: a kindCommit body followed by uvarint count, then
	// count read ranges of (uvarint start len, start, uvarint end len, end).
	// Written only when the commit has read ranges.
	kindCommitReads recordKind = 3
	// kindReport: uvarint node id len, node id, uvarint index, uvarint ts: a
	// page server's consistent point (ReportConsistent).
	kindReport recordKind = 4
	// kindMemberAddr: uvarint id len, id, uvarint addr len, addr: the gRPC
	// address of a group member, recorded when an admin adds it.
	kindMemberAddr recordKind = 5
)

const flagDelete = 1

// record is a decoded Raft command: a commit (kindCommit, kindCommitReads)
// or a timestamp high-water mark (kindHWM).
type record struct {
	kind      recordKind
	startTS   uint64
	commitTS  uint64
	hwm       uint64
	mutations []*wirepb.Mutation
	reads     []*wirepb.KeyRange
	// report is set for kindReport.
	report consistentReport
	// memberID and memberAddr are set for kindMemberAddr.
	memberID, memberAddr string
}

// encodeMemberAddr encodes a member's gRPC address.
func encodeMemberAddr(id, addr string) []byte {
	b := make([]byte, 0, 1+2*binary.MaxVarintLen64+len(id)+len(addr))
	b = append(b, byte(kindMemberAddr))
	b = binary.AppendUvarint(b, uint64(len(id)))
	b = append(b, id...)
	b = binary.AppendUvarint(b, uint64(len(addr)))
	return append(b, addr...)
}

// consistentReport is a page server's consistent point: the object store
// holds everything up to log index index (commit_ts ts).
type consistentReport struct {
	nodeID string
	index  uint64
	ts     uint64
}

// encodeReport encodes a consistent-point report.
func encodeReport(r consistentReport) []byte {
	b := make([]byte, 0, 1+3*binary.MaxVarintLen64+len(r.nodeID))
	b = append(b, byte(kindReport))
	b = binary.AppendUvarint(b, uint64(len(r.nodeID)))
	b = append(b, r.nodeID...)
	b = binary.AppendUvarint(b, r.index)
	return binary.AppendUvarint(b, r.ts)
}

// isCommit reports whether r is a commit record.
func (r *record) isCommit() bool { return r.kind == kindCommit || r.kind == kindCommitReads }

// encodeCommit encodes a commit record; with read ranges it is a
// kindCommitReads record.
func encodeCommit(startTS, commitTS uint64, muts []*wirepb.Mutation, reads []*wirepb.KeyRange) []byte {
	n := 1 + 4*binary.MaxVarintLen64
	for _, m := range muts {
		n += 1 + 2*binary.MaxVarintLen64 + len(m.GetKey()) + len(m.GetValue())
	}
	for _, r := range reads {
		n += 2*binary.MaxVarintLen64 + len(r.GetStart()) + len(r.GetEnd())
	}
	kind := kindCommit
	if len(reads) > 0 {
		kind = kindCommitReads
	}
	b := make([]byte, 0, n)
	b = append(b, byte(kind))
	b = binary.AppendUvarint(b, startTS)
	b = binary.AppendUvarint(b, commitTS)
	b = binary.AppendUvarint(b, uint64(len(muts)))
	for _, m := range muts {
		var flags byte
		if m.GetDelete() {
			flags |= flagDelete
		}
		b = append(b, flags)
		b = binary.AppendUvarint(b, uint64(len(m.GetKey())))
		b = append(b, m.GetKey()...)
		b = binary.AppendUvarint(b, uint64(len(m.GetValue())))
		b = append(b, m.GetValue()...)
	}
	if kind == kindCommitReads {
		b = binary.AppendUvarint(b, uint64(len(reads)))
		for _, r := range reads {
			b = binary.AppendUvarint(b, uint64(len(r.GetStart())))
			b = append(b, r.GetStart()...)
			b = binary.AppendUvarint(b, uint64(len(r.GetEnd())))
			b = append(b, r.GetEnd()...)
		}
	}
	return b
}

// encodeHWM encodes a timestamp high-water mark record.
func encodeHWM(hwm uint64) []byte {
	b := make([]byte, 0, 1+binary.MaxVarintLen64)
	b = append(b, byte(kindHWM))
	return binary.AppendUvarint(b, hwm)
}

// decodeRecord decodes a Raft command. Keys and values alias data.
func decodeRecord(data []byte) (record, error) {
	if len(data) == 0 {
		return record{}, fmt.Errorf("%w: empty", ErrCorruptRecord)
	}
	d := decoder{b: data[1:]}
	r := record{kind: recordKind(data[0])}
	switch r.kind {
	case kindCommit, kindCommitReads:
		r.startTS = d.uvarint()
		r.commitTS = d.uvarint()
		n := d.uvarint()
		// Each mutation takes at least three bytes: bound the allocation by
		// what the input can hold.
		if d.err == nil && n > uint64(len(d.b))/3 {
			return record{}, fmt.Errorf("%w: %d mutations in %d bytes", ErrCorruptRecord, n, len(d.b))
		}
		r.mutations = make([]*wirepb.Mutation, 0, n)
		for i := uint64(0); i < n && d.err == nil; i++ {
			flags := d.byte()
			key := d.bytes()
			val := d.bytes()
			if flags&^flagDelete != 0 {
				d.fail("unknown mutation flags")
			}
			r.mutations = append(r.mutations, &wirepb.Mutation{Key: key, Value: val, Delete: flags&flagDelete != 0})
		}
		if r.kind == kindCommitReads {
			n := d.uvarint()
			// Each range takes at least two bytes; a reads record has one.
			if d.err == nil && (n == 0 || n > uint64(len(d.b))/2) {
				return record{}, fmt.Errorf("%w: %d read ranges in %d bytes", ErrCorruptRecord, n, len(d.b))
			}
			r.reads = make([]*wirepb.KeyRange, 0, n)
			for i := uint64(0); i < n && d.err == nil; i++ {
				start := d.bytes()
				end := d.bytes()
				r.reads = append(r.reads, &wirepb.KeyRange{Start: start, End: end})
			}
		}
	case kindHWM:
		r.hwm = d.uvarint()
	case kindMemberAddr:
		r.memberID = string(d.bytes())
		r.memberAddr = string(d.bytes())
	case kindReport:
		r.report.nodeID = string(d.bytes())
		r.report.index = d.uvarint()
		r.report.ts = d.uvarint()
	default:
		return record{}, fmt.Errorf("%w: unknown kind %d", ErrCorruptRecord, data[0])
	}
	if d.err == nil && len(d.b) != 0 {
		d.fail("trailing bytes")
	}
	if d.err != nil {
		return record{}, d.err
	}
	return r, nil
}

// decoder reads varint-framed fields, remembering the first error.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s", ErrCorruptRecord, what)
	}
	d.b = nil
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail("bad varint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) byte() byte {
	if d.err != nil {
		return 0
	}
	if len(d.b) == 0 {
		d.fail("short record")
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) bytes() []byte {
	n := d.uvarint()
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)) {
		d.fail("short record")
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}
