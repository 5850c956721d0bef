package natsbus_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/phantom-db/phantom/internal/natsbus"
)

func TestSubjectBuilders(t *testing.T) {
	cases := []struct {
		build func(string) (string, error)
		parse func(string) (string, error)
		id    string
		want  string
		wild  string
	}{
		{natsbus.HeartbeatSubject, natsbus.NodeIDFromHeartbeatSubject, "node-1", "phantom.node.node-1.heartbeat", natsbus.HeartbeatWildcard},
		{natsbus.ComputeLoadSubject, natsbus.EndpointFromComputeLoadSubject, "ep_42", "phantom.compute.ep_42.load", natsbus.ComputeLoadWildcard},
		{natsbus.ScaleSubject, natsbus.EndpointFromScaleSubject, "ep-7", "phantom.scale.ep-7", natsbus.ScaleWildcard},
		{natsbus.CatalogChangedSubject, natsbus.DBFromCatalogChangedSubject, "tenant1-main", "phantom.catalog.tenant1-main.changed", natsbus.CatalogChangedWildcard},
	}
	for _, c := range cases {
		got, err := c.build(c.id)
		if err != nil || got != c.want {
			t.Errorf("build(%q) = %q, %v; want %q", c.id, got, err, c.want)
			continue
		}
		if !matches(c.wild, got) || !matches(natsbus.SubjectRoot, got) {
			t.Errorf("%q does not match its wildcard %q or %q", got, c.wild, natsbus.SubjectRoot)
		}
		if id, err := c.parse(got); err != nil || id != c.id {
			t.Errorf("parse(%q) = %q, %v; want %q", got, id, err, c.id)
		}
		for _, bad := range []string{"", "a.b", "a b", "*", ">", "a*", "a>b", "a\tb", "a\nb", "a\x00b", "\xff", strings.Repeat("x", natsbus.MaxIDLen+1)} {
			if s, err := c.build(bad); !errors.Is(err, natsbus.ErrInvalidID) {
				t.Errorf("build(%q) = %q, %v; want ErrInvalidID", bad, s, err)
			}
		}
	}
	// Parsers reject subjects of other kinds and ids that would not build.
	for _, bad := range []string{"", "phantom.node.heartbeat", "phantom.node.a.b.heartbeat", "phantom.node.a.load", "phantom.compute.a.heartbeat", "phantom.node.*.heartbeat", "other.node.a.heartbeat"} {
		if id, err := natsbus.NodeIDFromHeartbeatSubject(bad); !errors.Is(err, natsbus.ErrInvalidSubject) {
			t.Errorf("NodeIDFromHeartbeatSubject(%q) = %q, %v; want ErrInvalidSubject", bad, id, err)
		}
	}
	if id, err := natsbus.EndpointFromScaleSubject("phantom.scale.a.b"); !errors.Is(err, natsbus.ErrInvalidSubject) {
		t.Errorf("EndpointFromScaleSubject(two tokens) = %q, %v; want ErrInvalidSubject", id, err)
	}
}

func TestValidateID(t *testing.T) {
	for _, ok := range []string{"a", "node-1", "ünïcode", "UPPER_lower-09", strings.Repeat("x", natsbus.MaxIDLen)} {
		if err := natsbus.ValidateID(ok); err != nil {
			t.Errorf("ValidateID(%q) = %v", ok, err)
		}
	}
}

// matches is NATS subject matching for the wildcards this package uses.
func matches(pattern, subj string) bool {
	p, s := strings.Split(pattern, "."), strings.Split(subj, ".")
	for i, tok := range p {
		if tok == ">" {
			return len(s) > i
		}
		if i >= len(s) || (tok != "*" && tok != s[i]) {
			return false
		}
	}
	return len(p) == len(s)
}
