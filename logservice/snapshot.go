package logservice

import (
	"bufio"
	"cmp"
	"encoding/binary"
	"fmt"
	"io"
	"maps"
	"slices"
	"sort"
)

// lessWrite orders writes by (ts, key): the snapshot order.
func lessWrite(a, b writeRef) bool {
	if c := cmp.Compare(a.ts, b.ts); c != 0 {
		return c < 0
	}
	return a.key < b.key
}

// Snapshot format versions: v1 has no consistent-point reports; v2 adds the
// truncation floor, the reports and the member addresses. encodeSnapshot writes v2; both decode.
const (
	snapshotMagicV1 = "PHLS\x01"
	snapshotMagic   = "PHLS\x02"
)

// encodeSnapshot writes st with its live writes (lastWrite) sorted by
// (ts, key), so equal states encode to equal bytes and a restore rebuilds the
// queue in commit_ts order.
func encodeSnapshot(w io.Writer, st *fsmState) error {
	writes := make([]writeRef, 0, st.lastWrite.Len())
	st.lastWrite.Ascend(func(wr writeRef) bool {
		writes = append(writes, wr)
		return true
	})
	sort.Slice(writes, func(i, j int) bool { return lessWrite(writes[i], writes[j]) })
	b := []byte(snapshotMagic)
	for _, v := range []uint64{st.horizon, st.lastCommitTS, st.lastCommitIndex, st.lastProcessedTS, st.hwm, st.appliedIndex, uint64(len(st.aborted)), uint64(len(writes))} {
		b = binary.AppendUvarint(b, v)
	}
	b = binary.AppendUvarint(b, st.floor)
	b = binary.AppendUvarint(b, uint64(len(st.reports)))
	for _, id := range slices.Sorted(maps.Keys(st.reports)) {
		rep := st.reports[id]
		b = binary.AppendUvarint(b, uint64(len(id)))
		b = append(b, id...)
		b = binary.AppendUvarint(b, rep.index)
		b = binary.AppendUvarint(b, rep.ts)
	}
	b = binary.AppendUvarint(b, uint64(len(st.memberAddrs)))
	for _, id := range slices.Sorted(maps.Keys(st.memberAddrs)) {
		b = binary.AppendUvarint(b, uint64(len(id)))
		b = append(b, id...)
		b = binary.AppendUvarint(b, uint64(len(st.memberAddrs[id])))
		b = append(b, st.memberAddrs[id]...)
	}
	for _, idx := range st.aborted {
		b = binary.AppendUvarint(b, idx)
	}
	for _, wr := range writes {
		b = binary.AppendUvarint(b, wr.ts)
		b = binary.AppendUvarint(b, uint64(len(wr.key)))
		b = append(b, wr.key...)
		if len(b) > 1<<20 {
			if _, err := w.Write(b); err != nil {
				return err
			}
			b = b[:0]
		}
	}
	_, err := w.Write(b)
	return err
}

// decodeSnapshot reads what encodeSnapshot wrote.
func decodeSnapshot(r *bufio.Reader) (fsmState, error) {
	magic := make([]byte, len(snapshotMagic))
	if _, err := io.ReadFull(r, magic); err != nil || (string(magic) != snapshotMagic && string(magic) != snapshotMagicV1) {
		return fsmState{}, fmt.Errorf("bad snapshot header: %v", err)
	}
	var hdr [8]uint64
	for i := range hdr {
		v, err := binary.ReadUvarint(r)
		if err != nil {
			return fsmState{}, fmt.Errorf("snapshot header: %w", err)
		}
		hdr[i] = v
	}
	st := fsmState{
		horizon: hdr[0], lastCommitTS: hdr[1], lastCommitIndex: hdr[2],
		lastProcessedTS: hdr[3], hwm: hdr[4], appliedIndex: hdr[5],
	}
	nAborted, nWrites := hdr[6], hdr[7]
	st.reports = map[string]consistentReport{}
	st.memberAddrs = map[string]string{}
	if string(magic) == snapshotMagic {
		if err := decodeReports(r, &st); err != nil {
			return fsmState{}, err
		}
	}
	st.aborted = make([]uint64, 0, min(nAborted, 1<<16))
	for range nAborted {
		v, err := binary.ReadUvarint(r)
		if err != nil {
			return fsmState{}, fmt.Errorf("snapshot aborted list: %w", err)
		}
		st.aborted = append(st.aborted, v)
	}
	st.lastWrite = newWriteTree()
	st.queue = make([]writeRef, 0, min(nWrites, 1<<16))
	for range nWrites {
		ts, err := binary.ReadUvarint(r)
		if err != nil {
			return fsmState{}, fmt.Errorf("snapshot writes: %w", err)
		}
		n, err := binary.ReadUvarint(r)
		if err != nil || n > 1<<26 {
			return fsmState{}, fmt.Errorf("snapshot key length %d: %v", n, err)
		}
		key, err := io.ReadAll(io.LimitReader(r, int64(n)))
		if err != nil || uint64(len(key)) != n {
			return fsmState{}, fmt.Errorf("snapshot key: short read (%d of %d): %v", len(key), n, err)
		}
		w := writeRef{key: string(key), ts: ts}
		if len(st.queue) > 0 && lessWrite(w, st.queue[len(st.queue)-1]) {
			return fsmState{}, fmt.Errorf("snapshot writes out of (ts, key) order at key %q", key)
		}
		if _, dup := st.lastWrite.ReplaceOrInsert(w); dup {
			return fsmState{}, fmt.Errorf("snapshot writes: duplicate key %q", key)
		}
		st.queue = append(st.queue, w)
	}
	return st, nil
}

// decodeReports reads the v2 truncation floor and reports into st.
func decodeReports(r *bufio.Reader, st *fsmState) error {
	floor, err := binary.ReadUvarint(r)
	if err != nil {
		return fmt.Errorf("snapshot floor: %w", err)
	}
	st.floor = floor
	n, err := binary.ReadUvarint(r)
	if err != nil {
		return fmt.Errorf("snapshot reports: %w", err)
	}
	for range n {
		l, err := binary.ReadUvarint(r)
		if err != nil || l == 0 || l > 1<<16 {
			return fmt.Errorf("snapshot report id length %d: %v", l, err)
		}
		id := make([]byte, l)
		if _, err := io.ReadFull(r, id); err != nil {
			return fmt.Errorf("snapshot report id: %w", err)
		}
		var rep consistentReport
		rep.nodeID = string(id)
		if rep.index, err = binary.ReadUvarint(r); err != nil {
			return fmt.Errorf("snapshot report index: %w", err)
		}
		if rep.ts, err = binary.ReadUvarint(r); err != nil {
			return fmt.Errorf("snapshot report ts: %w", err)
		}
		st.reports[rep.nodeID] = rep
	}
	n, err = binary.ReadUvarint(r)
	if err != nil {
		return fmt.Errorf("snapshot member addresses: %w", err)
	}
	for range n {
		id, err := readString(r)
		if err != nil {
			return fmt.Errorf("snapshot member id: %w", err)
		}
		addr, err := readString(r)
		if err != nil {
			return fmt.Errorf("snapshot member address: %w", err)
		}
		st.memberAddrs[id] = addr
	}
	return nil
}

// readString reads a uvarint length (at most 64 KiB) and that many bytes.
func readString(r *bufio.Reader) (string, error) {
	l, err := binary.ReadUvarint(r)
	if err != nil || l > 1<<16 {
		return "", fmt.Errorf("length %d: %v", l, err)
	}
	b := make([]byte, l)
	if _, err := io.ReadFull(r, b); err != nil {
		return "", err
	}
	return string(b), nil
}
