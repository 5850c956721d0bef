package main

import (
	"context"
	"testing"

	"github.com/phantom-db/phantom/compute/httpapi"
	"github.com/phantom-db/phantom/compute/httpapi/httpapitest"
)

// TestRun runs the example against the real HTTP API over a memkv engine.
func TestRun(t *testing.T) {
	srv, _ := httpapitest.NewServer(t, httpapi.Config{})
	for range 2 { // twice: the example is rerunnable
		if err := run(context.Background(), srv.URL, "k"); err != nil {
			t.Fatal(err)
		}
	}
}
