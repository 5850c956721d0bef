package pgwire

import (
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgtype"
)

// TestPgxLaterTypes writes and reads the later types (int2, float4,
// numeric, date, timestamp, timestamptz, interval, uuid, bytea, jsonb)
// through pgx in every execution mode: the extended modes exchange them in
// binary (pgx knows their OIDs), the others in text.
func TestPgxLaterTypes(t *testing.T) {
	_, addr := startServer(t, Config{})
	for i, mode := range execModes {
		t.Run(mode.String(), func(t *testing.T) {
			ctx := testCtx(t)
			c := connect(t, addr, mode)
			table := fmt.Sprintf("lt%d", i)
			if _, err := c.Exec(ctx, "CREATE TABLE "+table+` (id UUID PRIMARY KEY, s SMALLINT, r REAL, n NUMERIC(12,3),
				d DATE, ts TIMESTAMP, tz TIMESTAMPTZ, iv INTERVAL, b BYTEA, j JSONB)`); err != nil {
				t.Fatal(err)
			}
			if _, err := c.Exec(ctx, "INSERT INTO "+table+` VALUES ('a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', -7, 1.25,
				-12345.6785, '2024-02-29', '2024-02-29 10:11:12.5', '2024-02-29 10:11:12+02', '1 mon 2 days 03:04:05',
				'\x00ff', '{"b": 1, "a": [true]}')`); err != nil {
				t.Fatal(err)
			}
			var (
				id  pgtype.UUID
				s   int16
				r   float32
				n   pgtype.Numeric
				d   time.Time
				ts  time.Time
				tz  time.Time
				iv  pgtype.Interval
				b   []byte
				j   map[string]any
				txt string
			)
			err := c.QueryRow(ctx, "SELECT id, s, r, n, d, ts, tz, iv, b, j, n::text FROM "+table+" WHERE s = $1", int16(-7)).
				Scan(&id, &s, &r, &n, &d, &ts, &tz, &iv, &b, &j, &txt)
			if err != nil {
				t.Fatal(err)
			}
			nv, err := n.Value()
			if err != nil {
				t.Fatal(err)
			}
			got := fmt.Sprintf("%x %d %v %v %s %s %s %d/%d/%d %x %v %s", id.Bytes, s, r, nv, d.Format("2006-01-02"),
				ts.Format("2006-01-02 15:04:05.000"), tz.UTC().Format("2006-01-02 15:04:05Z07"), iv.Months, iv.Days, iv.Microseconds, b, j, txt)
			want := "a0eebc999c0b4ef8bb6d6bb9bd380a11 -7 1.25 -12345.679 2024-02-29 2024-02-29 10:11:12.500 2024-02-29 08:11:12Z 1/2/11045000000 00ff map[a:[true] b:1] -12345.679"
			if got != want {
				t.Fatalf("got  %s\nwant %s", got, want)
			}
			// Parameters of the later types, bound in each mode's format.
			var cnt int64
			if err := c.QueryRow(ctx, "SELECT count(*) FROM "+table+" WHERE d = $1 AND n > $2 AND id = $3",
				time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC), -20000, id).Scan(&cnt); err != nil {
				t.Fatal(err)
			}
			if cnt != 1 {
				t.Fatalf("count %d", cnt)
			}
		})
	}
}
