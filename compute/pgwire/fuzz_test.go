package pgwire

import (
	"encoding/binary"
	"io"
	"net"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/phantom-db/phantom/compute/sql"
	"github.com/phantom-db/phantom/compute/storage/memkv"
)

// encodeMsgs encodes frontend messages as a client would send them.
func encodeMsgs(t testing.TB, msgs ...pgproto3.FrontendMessage) []byte {
	var buf []byte
	for _, m := range msgs {
		var err error
		if buf, err = m.Encode(buf); err != nil {
			t.Fatal(err)
		}
	}
	return buf
}

// FuzzMessages feeds arbitrary bytes to a connection after a valid
// startup: the server must neither panic nor hang, whatever arrives.
// `go test` runs the seeds; `go test -fuzz FuzzMessages` explores.
func FuzzMessages(f *testing.F) {
	int8bin := binary.BigEndian.AppendUint64(nil, 7)
	seeds := [][]pgproto3.FrontendMessage{
		{&pgproto3.Query{String: "CREATE TABLE t (a BIGINT PRIMARY KEY, b TEXT); INSERT INTO t VALUES (1, 'x'); SELECT * FROM t"}},
		{&pgproto3.Query{String: ""}, &pgproto3.Terminate{}},
		{&pgproto3.Parse{Name: "s", Query: "SELECT $1::bigint, $2", ParameterOIDs: []uint32{20}},
			&pgproto3.Describe{ObjectType: 'S', Name: "s"},
			&pgproto3.Bind{PreparedStatement: "s", DestinationPortal: "p", ParameterFormatCodes: []int16{1, 0},
				Parameters: [][]byte{int8bin, []byte("x")}, ResultFormatCodes: []int16{1}},
			&pgproto3.Describe{ObjectType: 'P', Name: "p"},
			&pgproto3.Execute{Portal: "p", MaxRows: 1},
			&pgproto3.Flush{},
			&pgproto3.Close{ObjectType: 'P', Name: "p"},
			&pgproto3.Sync{}},
		{&pgproto3.Parse{Query: "SELEC"}, &pgproto3.Bind{}, &pgproto3.Execute{}, &pgproto3.Sync{}},
		{&pgproto3.Bind{Parameters: [][]byte{nil}}, &pgproto3.Sync{}},
		{&pgproto3.Query{String: "CREATE TABLE c (a INT PRIMARY KEY, b TEXT)"},
			&pgproto3.Query{String: "COPY c FROM STDIN WITH (FORMAT csv, HEADER)"},
			&pgproto3.CopyData{Data: []byte("a,b\n1,\"x,\ny\"\n2,")}, &pgproto3.CopyData{Data: []byte("\n3,z\r\n")},
			&pgproto3.CopyDone{}, &pgproto3.Query{String: "COPY c TO STDOUT (FORMAT csv)"}},
		{&pgproto3.Query{String: "CREATE TABLE c (a INT PRIMARY KEY, b TEXT)"},
			&pgproto3.Query{String: "COPY c (a, b) FROM STDIN (DELIMITER '|', NULL 'NA')"},
			&pgproto3.CopyData{Data: []byte("1|\\x41\\101\\t\n2|NA\n\\.\n")}, &pgproto3.CopyFail{Message: "stop"},
			&pgproto3.Query{String: "COPY (SELECT a FROM c) TO STDOUT"}},
	}
	for _, s := range seeds {
		f.Add(encodeMsgs(f, s...))
	}
	f.Add([]byte{'Q', 0, 0, 0, 4})
	f.Add([]byte{'B', 0, 0, 0, 9, 0, 0, 0, 0xff, 0xff})
	f.Add([]byte{'P', 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, data []byte) {
		kv, err := memkv.New(memkv.Config{})
		if err != nil {
			t.Fatal(err)
		}
		eng, err := sql.New(sql.Config{KV: kv, MaxResultRows: 1000})
		if err != nil {
			t.Fatal(err)
		}
		s, err := New(Config{NewSession: DescribedBy(func() Session { return eng.NewSession() }, eng), Trust: true, MaxMessageBytes: 1 << 16})
		if err != nil {
			t.Fatal(err)
		}
		client, server := net.Pipe()
		done := make(chan struct{})
		go func() {
			defer close(done)
			s.serveConn(server)
		}()
		go func() { _, _ = io.Copy(io.Discard, client) }()
		startup := encodeMsgs(t, &pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersion30,
			Parameters: map[string]string{"user": "fuzz"}})
		_, _ = client.Write(append(startup, data...))
		client.Close()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			t.Fatalf("connection did not end after the client closed; input %q", data)
		}
	})
}
