package natsbus_test

import (
	"encoding/json"
	"testing"

	"github.com/phantom-db/phantom/internal/natsbus"
)

func goodLoad() natsbus.ComputeLoad {
	return natsbus.ComputeLoad{Endpoint: "ep-1", NodeID: "ep-1-c1", HTTPAddr: "127.0.0.1:1", ActiveSessions: 2,
		InFlight: 1, Concurrency: 0.5, QueriesPerSec: 10, P99Millis: 3, CPU: 0.2}
}

func TestDecodeComputeLoad(t *testing.T) {
	good, _ := json.Marshal(goodLoad())
	l, err := natsbus.DecodeComputeLoad("phantom.compute.ep-1.load", good)
	if err != nil || l.NodeID != "ep-1-c1" || l.Concurrency != 0.5 {
		t.Fatalf("decode good load: %+v, %v", l, err)
	}
	if _, err := natsbus.DecodeComputeLoad("phantom.compute.ep-2.load", good); err == nil {
		t.Fatal("load for ep-1 accepted on ep-2's subject")
	}
	bad := goodLoad()
	bad.InFlight = -1
	b, _ := json.Marshal(bad)
	if _, err := natsbus.DecodeComputeLoad("phantom.compute.ep-1.load", b); err == nil {
		t.Fatal("negative in-flight accepted")
	}
	if _, err := natsbus.DecodeComputeLoad("phantom.compute.ep-1.load", []byte(`{"endpoint":"ep-1","node_id":"n","http_addr":"a","cpu":1e400}`)); err == nil {
		t.Fatal("out-of-range cpu accepted")
	}
	ev, _ := json.Marshal(natsbus.ScaleEvent{Endpoint: "ep-1", From: 1, To: 3, Reason: "load"})
	if e, err := natsbus.DecodeScaleEvent("phantom.scale.ep-1", ev); err != nil || e.To != 3 {
		t.Fatalf("decode scale event: %+v, %v", e, err)
	}
	if _, err := natsbus.DecodeScaleEvent("phantom.scale.ep-9", ev); err == nil {
		t.Fatal("scale event for ep-1 accepted on ep-9's subject")
	}
}

// FuzzDecodeComputeLoad: the load decoder never panics, and what it accepts
// is valid for the subject's endpoint and survives a JSON round trip.
func FuzzDecodeComputeLoad(f *testing.F) {
	good, _ := json.Marshal(goodLoad())
	f.Add("phantom.compute.ep-1.load", good)
	f.Add("phantom.compute.ep-2.load", good)
	f.Add("phantom.compute.ep-1.load", []byte(`{"endpoint":"ep-1","node_id":"n","http_addr":"a","qps":-1}`))
	f.Add("phantom.compute.*.load", []byte(`{}`))
	f.Add("phantom.compute..load", []byte(`null`))
	f.Add("", []byte("\xff"))
	f.Fuzz(func(t *testing.T, subj string, data []byte) {
		l, err := natsbus.DecodeComputeLoad(subj, data)
		if err != nil {
			return
		}
		ep, err := natsbus.EndpointFromComputeLoadSubject(subj)
		if err != nil || ep != l.Endpoint {
			t.Fatalf("accepted load for %q on subject %q", l.Endpoint, subj)
		}
		if err := l.Validate(); err != nil {
			t.Fatalf("accepted an invalid load: %v", err)
		}
		again, err := json.Marshal(l)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := natsbus.DecodeComputeLoad(subj, again); err != nil {
			t.Fatalf("re-encoded load rejected: %v", err)
		}
	})
}
