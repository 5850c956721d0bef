package natsbus_test

import (
	"encoding/json"
	"testing"

	"github.com/phantom-db/phantom/internal/natsbus"
)

// FuzzDecodeHeartbeat feeds arbitrary subjects and bodies to the heartbeat
// decoder: it must never panic, and whatever it accepts must be a valid
// heartbeat for the subject's node that survives a JSON round trip.
func FuzzDecodeHeartbeat(f *testing.F) {
	good, _ := json.Marshal(natsbus.Heartbeat{NodeID: "n1", Role: natsbus.RoleCompute, Address: "127.0.0.1:5432",
		Load: natsbus.Load{ActiveSessions: 1, Extra: map[string]float64{"x": 1}}})
	f.Add("phantom.node.n1.heartbeat", good)
	f.Add("phantom.node.n2.heartbeat", good)
	f.Add("phantom.node.n1.heartbeat", []byte(`{"node_id":"n1","role":"pageserver","address":"a","seq":-1}`))
	f.Add("phantom.node.*.heartbeat", []byte(`{}`))
	f.Add("phantom.node..heartbeat", []byte(`null`))
	f.Add("", []byte("\xff"))
	f.Fuzz(func(t *testing.T, subj string, data []byte) {
		hb, err := natsbus.DecodeHeartbeat(subj, data)
		if err != nil {
			return
		}
		id, err := natsbus.NodeIDFromHeartbeatSubject(subj)
		if err != nil || id != hb.NodeID {
			t.Fatalf("accepted heartbeat for %q on subject %q", hb.NodeID, subj)
		}
		if err := hb.Validate(); err != nil {
			t.Fatalf("accepted an invalid heartbeat: %v", err)
		}
		again, err := json.Marshal(hb)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := natsbus.DecodeHeartbeat(subj, again); err != nil {
			t.Fatalf("re-encoded heartbeat rejected: %v", err)
		}
	})
}
