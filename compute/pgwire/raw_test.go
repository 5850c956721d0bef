package pgwire

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"
)

// rawClient speaks the protocol message by message, to test what pgx
// and psql never send.
type rawClient struct {
	t  *testing.T
	nc net.Conn
	fe *pgproto3.Frontend
}

func dialRaw(t *testing.T, addr string) *rawClient {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	_ = nc.SetDeadline(time.Now().Add(30 * time.Second))
	return &rawClient{t: t, nc: nc, fe: pgproto3.NewFrontend(nc, nc)}
}

// startup sends a StartupMessage and returns the messages up to and
// including ReadyForQuery, summarized.
func (r *rawClient) startup() []string {
	r.t.Helper()
	r.send(&pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersion30,
		Parameters: map[string]string{"user": "raw", "database": "phantom", "application_name": "rawtest"}})
	return r.untilReady()
}

func (r *rawClient) send(msgs ...pgproto3.FrontendMessage) {
	r.t.Helper()
	for _, m := range msgs {
		r.fe.Send(m)
	}
	if err := r.fe.Flush(); err != nil {
		r.t.Fatal(err)
	}
}

// untilReady receives messages until ReadyForQuery (or the connection
// ends, summarized as "EOF").
func (r *rawClient) untilReady() []string {
	r.t.Helper()
	var out []string
	for {
		m, err := r.fe.Receive()
		if err != nil {
			if err == io.EOF || strings.Contains(err.Error(), "EOF") || strings.Contains(err.Error(), "reset") {
				return append(out, "EOF")
			}
			r.t.Fatalf("receive: %v (after %v)", err, out)
		}
		out = append(out, summarize(m))
		if _, ok := m.(*pgproto3.ReadyForQuery); ok {
			return out
		}
	}
}

// exchange sends msgs and returns the summarized answer up to
// ReadyForQuery, one message a line.
func (r *rawClient) exchange(msgs ...pgproto3.FrontendMessage) string {
	r.t.Helper()
	r.send(msgs...)
	return strings.Join(r.untilReady(), "\n")
}

func summarize(m pgproto3.BackendMessage) string {
	switch m := m.(type) {
	case *pgproto3.RowDescription:
		var f []string
		for _, fd := range m.Fields {
			f = append(f, fmt.Sprintf("%s:%d:%d", fd.Name, fd.DataTypeOID, fd.Format))
		}
		return "RowDescription " + strings.Join(f, " ")
	case *pgproto3.DataRow:
		var f []string
		for _, v := range m.Values {
			if v == nil {
				f = append(f, "NULL")
			} else {
				f = append(f, fmt.Sprintf("%q", v))
			}
		}
		return "DataRow " + strings.Join(f, " ")
	case *pgproto3.CommandComplete:
		return "CommandComplete " + string(m.CommandTag)
	case *pgproto3.ErrorResponse:
		return fmt.Sprintf("ErrorResponse %s %s %s", m.Severity, m.Code, m.Message)
	case *pgproto3.ReadyForQuery:
		return "ReadyForQuery " + string(m.TxStatus)
	case *pgproto3.ParameterDescription:
		return fmt.Sprint("ParameterDescription ", m.ParameterOIDs)
	case *pgproto3.ParameterStatus:
		return "ParameterStatus " + m.Name + "=" + m.Value
	case *pgproto3.BackendKeyData:
		return "BackendKeyData"
	}
	return strings.TrimPrefix(fmt.Sprintf("%T", m), "*pgproto3.")
}

func TestStartupDeclinesEncryptionAndReportsParameters(t *testing.T) {
	_, addr := startServer(t, Config{})
	r := dialRaw(t, addr)
	for _, req := range []pgproto3.FrontendMessage{&pgproto3.SSLRequest{}, &pgproto3.GSSEncRequest{}} {
		r.send(req)
		b := make([]byte, 1)
		if _, err := io.ReadFull(r.nc, b); err != nil || b[0] != 'N' {
			t.Fatalf("%T answered %q %v", req, b, err)
		}
	}
	got := strings.Join(r.startup(), "\n")
	for _, want := range []string{"AuthenticationOk", "ParameterStatus server_version=15.0 (Phantom-DB)",
		"ParameterStatus server_encoding=UTF8", "ParameterStatus client_encoding=UTF8",
		"ParameterStatus standard_conforming_strings=on", "ParameterStatus integer_datetimes=on",
		"ParameterStatus TimeZone=UTC", "ParameterStatus application_name=rawtest",
		"BackendKeyData", "ReadyForQuery I"} {
		if !strings.Contains(got, want) {
			t.Fatalf("startup lacks %q:\n%s", want, got)
		}
	}
}

func TestSimpleQueryProtocol(t *testing.T) {
	_, addr := startServer(t, Config{})
	r := dialRaw(t, addr)
	r.startup()
	cases := []struct{ query, want string }{
		{"", "EmptyQueryResponse\nReadyForQuery I"},
		{" ; -- nothing", "EmptyQueryResponse\nReadyForQuery I"},
		{`CREATE TABLE s (a INT PRIMARY KEY, b BIGINT, c DOUBLE PRECISION, d TEXT, e BOOLEAN);
		  INSERT INTO s VALUES (1, 10, 1.5, 'x', true), (2, NULL, 1e20, NULL, false), (3, -1, 0.0001, '', NULL);
		  SELECT * FROM s ORDER BY a; SELECT 1/0; SELECT 2`,
			`CommandComplete CREATE TABLE
CommandComplete INSERT 0 3
RowDescription a:23:0 b:20:0 c:701:0 d:25:0 e:16:0
DataRow "1" "10" "1.5" "x" "t"
DataRow "2" NULL "1e+20" NULL "f"
DataRow "3" "-1" "0.0001" "" NULL
CommandComplete SELECT 3
ErrorResponse ERROR 22012 division by zero
ReadyForQuery I`},
		{"SELECT a FROM s WHERE a > 5", "RowDescription a:23:0\nCommandComplete SELECT 0\nReadyForQuery I"},
	}
	for _, tc := range cases {
		if got := r.exchange(&pgproto3.Query{String: tc.query}); got != tc.want {
			t.Fatalf("%s:\n got:\n%s\nwant:\n%s", tc.query, got, tc.want)
		}
	}
}

func TestExtendedQueryProtocol(t *testing.T) {
	_, addr := startServer(t, Config{})
	r := dialRaw(t, addr)
	r.startup()
	r.exchange(&pgproto3.Query{String: `CREATE TABLE e (k BIGINT PRIMARY KEY, v TEXT, f DOUBLE PRECISION, b BOOLEAN, i INT);
		INSERT INTO e VALUES (1, 'a', 0.5, true, 7), (2, 'b', NULL, false, -7), (3, 'c', 3, NULL, NULL), (4, 'd', -0.25, true, 0), (5, 'e', 1e-5, false, 1)`})
	int8bin := func(v int64) []byte { return binary.BigEndian.AppendUint64(nil, uint64(v)) }
	cases := []struct {
		name string
		msgs []pgproto3.FrontendMessage
		want string
	}{
		{"describe statement and portal, execute in chunks", []pgproto3.FrontendMessage{
			&pgproto3.Parse{Name: "q", Query: "SELECT k, v FROM e WHERE k >= $1 ORDER BY k"},
			&pgproto3.Describe{ObjectType: 'S', Name: "q"},
			&pgproto3.Bind{PreparedStatement: "q", DestinationPortal: "p", Parameters: [][]byte{[]byte("1")}},
			&pgproto3.Describe{ObjectType: 'P', Name: "p"},
			&pgproto3.Execute{Portal: "p", MaxRows: 2},
			&pgproto3.Execute{Portal: "p", MaxRows: 2},
			&pgproto3.Execute{Portal: "p", MaxRows: 2},
			&pgproto3.Sync{},
		}, `ParseComplete
ParameterDescription [20]
RowDescription k:20:0 v:25:0
BindComplete
RowDescription k:20:0 v:25:0
DataRow "1" "a"
DataRow "2" "b"
PortalSuspended
DataRow "3" "c"
DataRow "4" "d"
PortalSuspended
DataRow "5" "e"
CommandComplete SELECT 1
ReadyForQuery I`},
		{"binary parameters and results", []pgproto3.FrontendMessage{
			&pgproto3.Bind{PreparedStatement: "q", ParameterFormatCodes: []int16{1}, Parameters: [][]byte{int8bin(5)},
				ResultFormatCodes: []int16{1, 0}},
			&pgproto3.Execute{},
			&pgproto3.Sync{},
		}, `BindComplete
DataRow "\x00\x00\x00\x00\x00\x00\x00\x05" "e"
CommandComplete SELECT 1
ReadyForQuery I`},
		{"binary float bool int4 and NULL", []pgproto3.FrontendMessage{
			&pgproto3.Parse{Query: "SELECT f, b, i FROM e WHERE k = $1"},
			&pgproto3.Bind{Parameters: [][]byte{[]byte("2")}, ResultFormatCodes: []int16{1}},
			&pgproto3.Execute{},
			&pgproto3.Bind{Parameters: [][]byte{[]byte("1")}, ResultFormatCodes: []int16{1}},
			&pgproto3.Execute{},
			&pgproto3.Sync{},
		}, `ParseComplete
BindComplete
DataRow NULL "\x00" "\xff\xff\xff\xf9"
CommandComplete SELECT 1
BindComplete
DataRow "?\xe0\x00\x00\x00\x00\x00\x00" "\x01" "\x00\x00\x00\a"
CommandComplete SELECT 1
ReadyForQuery I`},
		{"write statement describes as NoData with typed parameters", []pgproto3.FrontendMessage{
			&pgproto3.Parse{Query: "INSERT INTO e (k, v, f, b, i) VALUES ($1, $2, $3, $4, $5)"},
			&pgproto3.Describe{ObjectType: 'S'},
			&pgproto3.Bind{Parameters: [][]byte{[]byte("6"), []byte("f"), []byte("2.5"), []byte("yes"), nil}},
			&pgproto3.Describe{ObjectType: 'P'},
			&pgproto3.Execute{},
			&pgproto3.Sync{},
		}, `ParseComplete
ParameterDescription [20 25 701 16 23]
NoData
BindComplete
NoData
CommandComplete INSERT 0 1
ReadyForQuery I`},
		{"client-declared parameter types", []pgproto3.FrontendMessage{
			&pgproto3.Parse{Query: "SELECT $1, $2", ParameterOIDs: []uint32{oidInt4}},
			&pgproto3.Describe{ObjectType: 'S'},
			&pgproto3.Sync{},
		}, `ParseComplete
ParameterDescription [23 25]
RowDescription ?column?:20:0 ?column?:25:0
ReadyForQuery I`},
		{"error skips to Sync", []pgproto3.FrontendMessage{
			&pgproto3.Parse{Name: "bad", Query: "SELEC 1"},
			&pgproto3.Bind{PreparedStatement: "bad"},
			&pgproto3.Execute{},
			&pgproto3.Sync{},
			&pgproto3.Parse{Query: "SELECT 1"},
			&pgproto3.Bind{},
			&pgproto3.Execute{},
			&pgproto3.Sync{},
		}, `ErrorResponse ERROR 42601 syntax error at or near "SELEC"
ReadyForQuery I
ParseComplete
BindComplete
DataRow "1"
CommandComplete SELECT 1
ReadyForQuery I`},
		{"runtime error in Execute", []pgproto3.FrontendMessage{
			&pgproto3.Parse{Query: "SELECT 1 / i FROM e WHERE k = $1"},
			&pgproto3.Bind{Parameters: [][]byte{[]byte("4")}},
			&pgproto3.Execute{},
			&pgproto3.Sync{},
		}, `ParseComplete
BindComplete
ErrorResponse ERROR 22012 division by zero
ReadyForQuery I`},
		{"bad parameter text", []pgproto3.FrontendMessage{
			&pgproto3.Bind{PreparedStatement: "q", Parameters: [][]byte{[]byte("one")}},
			&pgproto3.Sync{},
		}, `ErrorResponse ERROR 22P02 invalid input syntax for type bigint: "one"
ReadyForQuery I`},
		{"bad binary parameter", []pgproto3.FrontendMessage{
			&pgproto3.Bind{PreparedStatement: "q", ParameterFormatCodes: []int16{1}, Parameters: [][]byte{{1, 2}}},
			&pgproto3.Sync{},
		}, `ErrorResponse ERROR 22P03 incorrect binary data format in bind parameter 1
ReadyForQuery I`},
		{"names: duplicate, missing, close", []pgproto3.FrontendMessage{
			&pgproto3.Parse{Name: "q", Query: "SELECT 1"},
			&pgproto3.Sync{},
			&pgproto3.Bind{PreparedStatement: "nope"},
			&pgproto3.Sync{},
			&pgproto3.Execute{Portal: "nope"},
			&pgproto3.Sync{},
			&pgproto3.Describe{ObjectType: 'S', Name: "nope"},
			&pgproto3.Sync{},
			&pgproto3.Close{ObjectType: 'S', Name: "q"},
			&pgproto3.Close{ObjectType: 'P', Name: "nope"},
			&pgproto3.Describe{ObjectType: 'S', Name: "q"},
			&pgproto3.Sync{},
		}, `ErrorResponse ERROR 42P05 prepared statement "q" already exists
ReadyForQuery I
ErrorResponse ERROR 26000 prepared statement "nope" does not exist
ReadyForQuery I
ErrorResponse ERROR 34000 portal "nope" does not exist
ReadyForQuery I
ErrorResponse ERROR 26000 prepared statement "nope" does not exist
ReadyForQuery I
CloseComplete
CloseComplete
ErrorResponse ERROR 26000 prepared statement "q" does not exist
ReadyForQuery I`},
		{"portals end with the transaction", []pgproto3.FrontendMessage{
			&pgproto3.Parse{Name: "q2", Query: "SELECT k FROM e"},
			&pgproto3.Bind{PreparedStatement: "q2", DestinationPortal: "kept"},
			&pgproto3.Sync{},
			&pgproto3.Execute{Portal: "kept"},
			&pgproto3.Sync{},
		}, `ParseComplete
BindComplete
ReadyForQuery I
ErrorResponse ERROR 34000 portal "kept" does not exist
ReadyForQuery I`},
		{"empty and multi-statement Parse", []pgproto3.FrontendMessage{
			&pgproto3.Parse{Query: ""},
			&pgproto3.Bind{},
			&pgproto3.Describe{ObjectType: 'P'},
			&pgproto3.Execute{},
			&pgproto3.Sync{},
			&pgproto3.Parse{Query: "SELECT 1; SELECT 2"},
			&pgproto3.Sync{},
		}, `ParseComplete
BindComplete
NoData
EmptyQueryResponse
ReadyForQuery I
ErrorResponse ERROR 42601 cannot insert multiple commands into a prepared statement
ReadyForQuery I`},
		{"unsupported result format", []pgproto3.FrontendMessage{
			&pgproto3.Bind{PreparedStatement: "q2", ResultFormatCodes: []int16{2}},
			&pgproto3.Sync{},
		}, `ErrorResponse ERROR 22023 unsupported format code: 2
ReadyForQuery I`},
	}
	for _, tc := range cases {
		var got []string
		r.send(tc.msgs...)
		for range countSyncs(tc.msgs) {
			got = append(got, r.untilReady()...)
		}
		if g := strings.Join(got, "\n"); g != tc.want {
			t.Fatalf("%s:\n got:\n%s\nwant:\n%s", tc.name, g, tc.want)
		}
	}
}

func countSyncs(msgs []pgproto3.FrontendMessage) int {
	n := 0
	for _, m := range msgs {
		if _, ok := m.(*pgproto3.Sync); ok {
			n++
		}
	}
	return n
}

func TestProtocolViolationsCloseTheConnection(t *testing.T) {
	_, addr := startServer(t, Config{MaxMessageBytes: 1024})
	cases := []struct {
		name string
		send func(r *rawClient)
		want string
	}{
		{"unknown message type", func(r *rawClient) { r.nc.Write([]byte{'Z', 0, 0, 0, 4}) },
			"ErrorResponse FATAL 08P01 unknown message type: Z\nEOF"},
		{"bad length", func(r *rawClient) { r.nc.Write([]byte{'Q', 0, 0, 0, 2}) },
			"ErrorResponse FATAL 08P01 invalid message length: 2\nEOF"},
		{"message too large", func(r *rawClient) { r.send(&pgproto3.Query{String: strings.Repeat("x", 2000)}) },
			"ErrorResponse FATAL 08P01 "},
		{"bind with wrong parameter count", func(r *rawClient) {
			r.send(&pgproto3.Parse{Query: "SELECT $1::bigint"}, &pgproto3.Bind{}, &pgproto3.Sync{})
		}, "ParseComplete\nErrorResponse FATAL 08P01 bind message supplies 0 parameters, but prepared statement \"\" requires 1\nEOF"},
	}
	for _, tc := range cases {
		r := dialRaw(t, addr)
		r.startup()
		tc.send(r)
		if got := strings.Join(r.untilReady(), "\n"); !strings.HasPrefix(got, tc.want) || !strings.HasSuffix(got, "EOF") {
			t.Fatalf("%s:\n got:\n%s\nwant prefix:\n%s", tc.name, got, tc.want)
		}
	}
	// A bad startup packet, and a cancel request with an unknown key, are
	// answered by closing; the server keeps serving.
	r := dialRaw(t, addr)
	r.nc.Write([]byte{0, 0, 0, 8, 0, 9, 9, 9})
	if got := strings.Join(r.untilReady(), "\n"); !strings.HasPrefix(got, "ErrorResponse FATAL 08P01 invalid startup packet") {
		t.Fatalf("bad startup: %s", got)
	}
	r = dialRaw(t, addr)
	r.send(&pgproto3.CancelRequest{ProcessID: 12345, SecretKey: []byte{1, 2, 3, 4}})
	if got := r.untilReady(); len(got) != 1 || got[0] != "EOF" {
		t.Fatalf("cancel: %v", got)
	}
	r = dialRaw(t, addr)
	r.startup()
	if got := r.exchange(&pgproto3.Query{String: "SELECT 1"}); !strings.Contains(got, `DataRow "1"`) {
		t.Fatalf("after violations: %s", got)
	}
	r.send(&pgproto3.Terminate{})
	if got := r.untilReady(); len(got) != 1 || got[0] != "EOF" {
		t.Fatalf("terminate: %v", got)
	}
}

func TestTooManyConnections(t *testing.T) {
	_, addr := startServer(t, Config{MaxConnections: 1})
	first := dialRaw(t, addr)
	first.startup()
	second := dialRaw(t, addr)
	got := strings.Join(second.startup(), "\n")
	if got != "ErrorResponse FATAL 53300 sorry, too many clients already\nEOF" {
		t.Fatalf("second connection: %s", got)
	}
	first.send(&pgproto3.Terminate{})
	first.untilReady()
	// The slot is free again once the first connection is gone; the server
	// notices asynchronously, so retry a bounded number of times.
	for i := 0; ; i++ {
		third := dialRaw(t, addr)
		got := third.startup()
		if got[len(got)-1] == "ReadyForQuery I" {
			break
		}
		if i == 100 {
			t.Fatalf("third connection never admitted: %v", got)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestCloseEndsConnections(t *testing.T) {
	s, addr := startServer(t, Config{})
	r := dialRaw(t, addr)
	r.startup()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if got := r.untilReady(); got[len(got)-1] != "EOF" {
		t.Fatalf("after Close: %v", got)
	}
	if _, err := net.Dial("tcp", addr); err == nil {
		t.Fatal("listener still accepting after Close")
	}
}

func TestStartupDatabaseAndProtocolVersion(t *testing.T) {
	_, addr := startServer(t, Config{Database: "phantom"})
	r := dialRaw(t, addr)
	r.send(&pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersion30,
		Parameters: map[string]string{"user": "u", "database": "other"}})
	if got := strings.Join(r.untilReady(), "\n"); got != "ErrorResponse FATAL 3D000 database \"other\" does not exist\nEOF" {
		t.Fatalf("wrong database: %s", got)
	}
	// A protocol 3.2 client is told the server speaks 3.0, and which
	// protocol options it did not recognize, then carries on.
	r = dialRaw(t, addr)
	r.send(&pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersion32,
		Parameters: map[string]string{"user": "u", "database": "phantom", "_pq_.test": "1"}})
	got := r.untilReady()
	if got[0] != "NegotiateProtocolVersion" || got[1] != "AuthenticationOk" || got[len(got)-1] != "ReadyForQuery I" {
		t.Fatalf("3.2 startup: %v", got)
	}
}

// TestCopyMessagesOutsideCopyAreIgnored: the tail of a COPY the server
// refused before CopyInResponse is dropped, as PostgreSQL drops it, and the
// connection goes on.
func TestCopyMessagesOutsideCopyAreIgnored(t *testing.T) {
	_, addr := startServer(t, Config{})
	r := dialRaw(t, addr)
	r.startup()
	got := r.exchange(&pgproto3.Query{String: "COPY nowhere FROM STDIN"}, &pgproto3.CopyData{Data: []byte("1\n")},
		&pgproto3.CopyDone{}, &pgproto3.Query{String: "SELECT 1"})
	if !strings.HasPrefix(got, "ErrorResponse ERROR 42P01") {
		t.Fatalf("COPY of a missing table:\n%s", got)
	}
	if got := strings.Join(r.untilReady(), "\n"); !strings.Contains(got, `DataRow "1"`) {
		t.Fatalf("SELECT after the ignored copy data:\n%s", got)
	}
}
