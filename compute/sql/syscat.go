package sql

import (
	"context"
	"sort"

	"github.com/phantom-db/phantom/compute/sql/catalog"
)

// Tables lists every table and view for the system relations (bind.Lister)
// while Describe binds; not memoized (Describe reads it at most once per
// probe bind).
func (c *memoCatalog) Tables(ctx context.Context) ([]*catalog.Table, error) { return c.r.Tables(ctx) }

// Sequences lists every sequence for the system relations (bind.Lister).
func (c *memoCatalog) Sequences(ctx context.Context) ([]*catalog.Sequence, error) {
	return c.r.Sequences(ctx)
}

// settingNames are the names pg_settings shows where PostgreSQL's
// canonical spelling is not lower case.
var settingNames = map[string]string{"datestyle": "DateStyle", "intervalstyle": "IntervalStyle", "timezone": "TimeZone"}

// settingList lists every setting SHOW knows with its current value and
// source (default or session), by name, for pg_settings.
func (s *Session) settingList() [][3]string {
	names := []string{"transaction_isolation", "transaction_read_only"}
	for n := range settingDefaults {
		names = append(names, n)
	}
	for n := range readOnlySettings {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make([][3]string, 0, len(names))
	for _, n := range names {
		v, ok := s.Setting(n)
		if !ok {
			continue
		}
		source := "default"
		if _, set := s.settings[n]; set {
			source = "session"
		}
		name := n
		if c, ok := settingNames[n]; ok {
			name = c
		}
		out = append(out, [3]string{name, v, source})
	}
	return out
}
