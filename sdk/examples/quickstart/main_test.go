package main

import (
	"context"
	"net/http/httptest"
	"testing"

	"github.com/phantom-db/phantom/compute/httpapi"
	"github.com/phantom-db/phantom/compute/sql"
	"github.com/phantom-db/phantom/compute/storage/memkv"
)

// TestRun runs the example against the real HTTP API over a memkv engine.
func TestRun(t *testing.T) {
	kv, err := memkv.New(memkv.Config{})
	if err != nil {
		t.Fatal(err)
	}
	eng, err := sql.New(sql.Config{KV: kv, DatabaseID: 1})
	if err != nil {
		t.Fatal(err)
	}
	api, err := httpapi.New(httpapi.Config{Executor: eng, NewSession: func() httpapi.Session { return eng.NewSession() }})
	if err != nil {
		t.Fatal(err)
	}
	defer api.Close()
	srv := httptest.NewServer(api)
	defer srv.Close()
	for range 2 { // twice: the example is rerunnable
		if err := run(context.Background(), srv.URL, "k"); err != nil {
			t.Fatal(err)
		}
	}
}
