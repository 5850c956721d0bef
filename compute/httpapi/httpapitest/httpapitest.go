// Package httpapitest serves the real HTTP SQL API over an in-memory KV
// (compute/storage/memkv) for the tests of its clients: the SDK, the
// database/sql driver and the `phantom sql` shell. It is for tests only.
package httpapitest

import (
	"net/http/httptest"
	"testing"

	"github.com/phantom-db/phantom/compute/httpapi"
	"github.com/phantom-db/phantom/compute/sql"
	"github.com/phantom-db/phantom/compute/storage/memkv"
)

// NewServer starts the API with sessions on 127.0.0.1, configured by cfg
// (Executor, NewSession and NewReadOnlySession are filled in when nil; Auth
// is httpapi.NoAuth when nil), and stops it when the
// test ends. It returns the server and the engine behind it.
func NewServer(t testing.TB, cfg httpapi.Config) (*httptest.Server, *sql.Engine) {
	t.Helper()
	kv, err := memkv.New(memkv.Config{})
	if err != nil {
		t.Fatal(err)
	}
	eng, err := sql.New(sql.Config{KV: kv, DatabaseID: 1})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Executor == nil {
		cfg.Executor = eng
	}
	if cfg.NewSession == nil {
		cfg.NewSession = func() httpapi.Session { return eng.NewSession() }
	}
	if cfg.NewReadOnlySession == nil {
		cfg.NewReadOnlySession = func() httpapi.Session { s := eng.NewSession(); s.RestrictToReads(); return s }
	}
	if cfg.Auth == nil {
		cfg.Auth = httpapi.NoAuth
	}
	api, err := httpapi.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(api.Close)
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	return srv, eng
}
