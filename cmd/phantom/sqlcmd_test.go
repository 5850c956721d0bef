package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/phantom-db/phantom/cmd/phantom/internal/sqlshell"
	"github.com/phantom-db/phantom/compute/auth"
	"github.com/phantom-db/phantom/compute/httpapi"
	"github.com/phantom-db/phantom/compute/httpapi/httpapitest"
)

// newSQLClient serves the HTTP SQL API over a memkv-backed engine on
// 127.0.0.1 and returns a client with an open session.
func newSQLClient(t *testing.T) *sqlshell.Client {
	t.Helper()
	srv, _ := httpapitest.NewServer(t, httpapi.Config{})
	c, err := sqlshell.NewClient(sqlshell.ClientConfig{URL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.OpenSession(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.CloseWithTimeout() })
	return c
}

// fileWith returns an open file holding text (a non-terminal stdin).
func fileWith(t *testing.T, text string) *os.File {
	t.Helper()
	p := filepath.Join(t.TempDir(), "in.sql")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func TestSQLCommandInputsInOrder(t *testing.T) {
	client := newSQLClient(t)
	script := fileWith(t, "INSERT INTO t VALUES (1, 'one');\nINSERT INTO t\n VALUES (2, 'two');\n")
	var out, errb bytes.Buffer
	err := runSQL(context.Background(), client, sqlRun{
		inputs: []sqlInput{
			{text: "CREATE TABLE t (id INT PRIMARY KEY, name TEXT); BEGIN"},
			{file: true, text: "-"},
			{text: "COMMIT"},
			{text: `\format csv`},
			{text: "SELECT id, name FROM t ORDER BY id"},
		},
		format: sqlshell.FormatTable, stdin: script, stdout: &out, stderr: &errb,
	})
	if err != nil {
		t.Fatalf("runSQL: %v\nstderr: %s", err, errb.String())
	}
	want := "CREATE TABLE\nBEGIN\nINSERT 0 1\nINSERT 0 1\nCOMMIT\nOutput format is csv.\nid,name\n1,one\n2,two\n"
	if out.String() != want {
		t.Fatalf("stdout:\n%s\nwant:\n%s", out.String(), want)
	}
}

func TestSQLCommandStdinStopsAtFirstError(t *testing.T) {
	client := newSQLClient(t)
	stdin := fileWith(t, "SELECT 1 AS a;\nSELECT 1/0;\nSELECT 2 AS b;\n")
	var out, errb bytes.Buffer
	err := runSQL(context.Background(), client, sqlRun{format: sqlshell.FormatCSV, stdin: stdin, stdout: &out, stderr: &errb})
	if !errors.Is(err, sqlshell.ErrStatementFailed) {
		t.Fatalf("runSQL = %v, want ErrStatementFailed", err)
	}
	if out.String() != "a\n1\n" {
		t.Fatalf("stdout %q", out.String())
	}
	if errb.String() != "ERROR:  division by zero (SQLSTATE 22012)\n" {
		t.Fatalf("stderr %q", errb.String())
	}
}

// oneKey admits only the API key "k".
type oneKey struct{}

func (oneKey) Authenticate(_ context.Context, key string) (auth.Principal, error) {
	if key != "k" {
		return auth.Principal{}, auth.ErrUnauthenticated
	}
	return auth.Principal{KeyID: "k", Tenant: "default", Database: "phantom"}, nil
}

func TestSQLClientSendsAPIKey(t *testing.T) {
	srv, _ := httpapitest.NewServer(t, httpapi.Config{Auth: oneKey{}})
	bad, err := sqlshell.NewClient(sqlshell.ClientConfig{URL: srv.URL, APIKey: "wrong"})
	if err != nil {
		t.Fatal(err)
	}
	var apiErr *sqlshell.Error
	if err := bad.OpenSession(context.Background()); !errors.As(err, &apiErr) || apiErr.HTTPStatus != 401 {
		t.Fatalf("wrong key: %v", err)
	}
	c, err := sqlshell.NewClient(sqlshell.ClientConfig{URL: srv.URL, APIKey: "k"})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.OpenSession(context.Background()); err != nil {
		t.Fatalf("right key: %v", err)
	}
	_ = c.CloseWithTimeout()
}
