package builtins

import (
	"math/rand/v2"
	"testing"

	"github.com/phantom-db/phantom/compute/sql/types"
)

// TestToCharTemplatesNeverPanic runs random templates built from every
// pattern piece over several values; to_char must answer or fail with an
// error, never panic.
func TestToCharTemplatesNeverPanic(t *testing.T) {
	pieces := []string{"9", "0", ".", ",", "D", "G", "S", "MI", "PL", "SG", "PR", "FM", "EEEE", "TH", "th", "V", "\"x\"", "RN", "L",
		"YYYY", "Y,YYY", "MM", "Month", "DD", "DDD", "HH24", "HH12", "MI", "SS", "US", "AM", "IW", "IYYY", "J", "Q", "RM", "TZ", "\\", "\""}
	nums := []types.Decimal{types.DecimalFromInt(0), types.DecimalFromInt(-7), types.DecimalFromInt(123456789)}
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 3000; i++ {
		var tmpl string
		for n := r.IntN(8); n >= 0; n-- {
			tmpl += pieces[r.IntN(len(pieces))]
		}
		for _, d := range nums {
			_, _ = formatNumber(d, tmpl)
		}
		_ = formatDateTime(int64(r.Uint64()>>20)-1<<43, tmpl, r.IntN(2) == 0)
		_ = formatInterval(types.IntervalValue{Months: int32(r.IntN(100)) - 50, Days: 3, Micros: int64(r.IntN(1 << 40))}, tmpl)
	}
}

func TestToCharExamples(t *testing.T) {
	for _, c := range []struct {
		d    types.Decimal
		tmpl string
		want string
	}{
		{types.DecimalFromInt(42), "999", "  42"},
		{types.DecimalFromInt(-42), "FM999", "-42"},
		{types.DecimalFromInt(1234), "9,999", " 1,234"},
		{types.DecimalFromInt(1234), "99", " ##"},
		{types.DecimalFromInt(7), "FM9th", "7th"},
	} {
		got, err := formatNumber(c.d, c.tmpl)
		if err != nil || got != c.want {
			t.Errorf("to_char(%s, %q) = %q, %v; want %q", c.d, c.tmpl, got, err, c.want)
		}
	}
	if got := formatDateTime(0, "YYYY-MM-DD HH24:MI:SS Day", false); got != "1970-01-01 00:00:00 Thursday " {
		t.Errorf("epoch = %q", got)
	}
}
