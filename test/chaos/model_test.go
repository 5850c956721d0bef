package chaos

import (
	"testing"

	"github.com/anishathalye/porcupine"
)

// The register model must reject what the chaos runs are meant to catch,
// and accept what unknown outcomes allow.
func TestRegisterModel(t *testing.T) {
	w := func(cid int, key, v string, call, ret int64) porcupine.Operation {
		return porcupine.Operation{ClientId: cid, Input: regInput{Key: key, Write: true, Value: v}, Call: call, Return: ret}
	}
	r := func(cid int, key, v string, call, ret int64) porcupine.Operation {
		return porcupine.Operation{ClientId: cid, Input: regInput{Key: key}, Output: v, Call: call, Return: ret}
	}
	const end = 1000 // the return time given to operations of unknown outcome
	for _, tc := range []struct {
		name string
		ops  []porcupine.Operation
		want porcupine.CheckResult
	}{
		{"sequential", []porcupine.Operation{w(0, "a", "1", 0, 10), r(1, "a", "1", 20, 30)}, porcupine.Ok},
		{"stale read", []porcupine.Operation{w(0, "a", "1", 0, 10), w(0, "a", "2", 20, 30), r(1, "a", "1", 40, 50)}, porcupine.Illegal},
		{"lost write", []porcupine.Operation{w(0, "a", "1", 0, 10), r(1, "a", "", 20, 30)}, porcupine.Illegal},
		{"concurrent read either", []porcupine.Operation{w(0, "a", "1", 0, 10), w(0, "a", "2", 20, 40), r(1, "a", "1", 25, 30)}, porcupine.Ok},
		{"keys independent", []porcupine.Operation{w(0, "a", "1", 0, 10), r(1, "b", "", 20, 30)}, porcupine.Ok},
		{"unknown write seen late", []porcupine.Operation{w(0, "a", "1", 0, end), r(1, "a", "", 20, 30), r(1, "a", "1", 500, 510)}, porcupine.Ok},
		{"unknown write never seen", []porcupine.Operation{w(0, "a", "1", 0, end), r(1, "a", "", 500, 510)}, porcupine.Ok},
		{"unknown write cannot be undone", []porcupine.Operation{w(0, "a", "1", 0, end), r(1, "a", "1", 20, 30), r(1, "a", "", 40, 50)}, porcupine.Illegal},
	} {
		if got := porcupine.CheckOperationsTimeout(registerModel, tc.ops, 0); got != tc.want {
			t.Errorf("%s: got %s, want %s", tc.name, got, tc.want)
		}
	}
}
