package builtins

import (
	"math/big"
	"strings"
	"time"

	"github.com/phantom-db/phantom/compute/sql/sqlerr"
	"github.com/phantom-db/phantom/compute/sql/types"
)

const (
	date  = types.Date
	tm    = types.Time
	ts    = types.Timestamp
	tstz  = types.TimestampTZ
	ival  = types.Interval
	usDay = int64(86_400_000_000)
)

// micros returns microseconds as a numeric with scale 6 / div digits.
func microsDec(us int64, scale int32) types.Decimal {
	d := types.NewDecimal(big.NewInt(us), 6)
	if scale != 6 {
		d = d.Round(scale)
	}
	return d
}

func intDec(v int64) types.Decimal { return types.DecimalFromInt(v) }

func floorDiv(a, b int64) (int64, int64) {
	q, r := a/b, a%b
	if r < 0 {
		q--
		r += b
	}
	return q, r
}

// civil returns the calendar fields of days since 1970-01-01.
func civil(days int64) (y int64, m, d int) {
	t := time.Unix(days*86400, 0).UTC()
	return int64(t.Year()), int(t.Month()), t.Day()
}

func notSupported(unit string, t types.T) error {
	return sqlerr.New(sqlerr.CodeFeatureNotSupported, "unit %q not supported for type %s", unit, t.SQLName())
}

func notRecognized(unit string, t types.T) error {
	return sqlerr.New(sqlerr.CodeInvalidParameterValue, "unit %q not recognized for type %s", unit, t.SQLName())
}

// normUnit folds the unit spellings PostgreSQL accepts.
func normUnit(u string) string {
	u = strings.ToLower(strings.TrimSpace(u))
	switch u {
	case "years", "y", "yr", "yrs":
		return "year"
	case "months", "mon", "mons":
		return "month"
	case "days", "d":
		return "day"
	case "hours", "h", "hr", "hrs":
		return "hour"
	case "minutes", "m", "min", "mins":
		return "minute"
	case "seconds", "s", "sec", "secs":
		return "second"
	case "milliseconds", "ms", "msec", "msecs":
		return "millisecond"
	case "microseconds", "us", "usec", "usecs":
		return "microsecond"
	case "weeks", "w":
		return "week"
	case "decades":
		return "decade"
	case "centuries":
		return "century"
	case "millennia", "millenniums":
		return "millennium"
	case "quarters":
		return "quarter"
	}
	return u
}

// extractDate implements EXTRACT for dates.
func extractDate(unit string, d types.DateValue) (types.Decimal, error) {
	u := normUnit(unit)
	days := int64(d)
	y, m, dd := civil(days)
	switch u {
	case "year":
		if y <= 0 {
			return intDec(y - 1), nil
		}
		return intDec(y), nil
	case "month":
		return intDec(int64(m)), nil
	case "day":
		return intDec(int64(dd)), nil
	case "epoch":
		return intDec(days * 86400), nil
	case "hour", "minute", "second", "millisecond", "microsecond", "timezone", "timezone_hour", "timezone_minute":
		return types.Decimal{}, notSupported(unit, date)
	}
	v, ok := calendarField(u, days, y, m, dd)
	if !ok {
		return types.Decimal{}, notRecognized(unit, date)
	}
	return intDec(v), nil
}

// calendarField computes the fields shared by dates and timestamps.
func calendarField(u string, days, y int64, m, d int) (int64, bool) {
	t := time.Unix(days*86400, 0).UTC()
	switch u {
	case "dow":
		return int64(t.Weekday()), true
	case "isodow":
		w := int64(t.Weekday())
		if w == 0 {
			w = 7
		}
		return w, true
	case "doy":
		return int64(t.YearDay()), true
	case "week":
		_, w := t.ISOWeek()
		return int64(w), true
	case "isoyear":
		iy, _ := t.ISOWeek()
		return int64(iy), true
	case "quarter":
		return int64((m-1)/3 + 1), true
	case "decade":
		if y <= 0 {
			return -((8 - (y - 1)) / 10), true
		}
		return y / 10, true
	case "century":
		if y > 0 {
			return (y + 99) / 100, true
		}
		return -((99 - (y - 1)) / 100), true
	case "millennium":
		if y > 0 {
			return (y + 999) / 1000, true
		}
		return -((999 - (y - 1)) / 1000), true
	case "julian":
		return days + 2440588, true
	}
	return 0, false
}

// extractTS implements EXTRACT for timestamps (and timestamptz in UTC).
func extractTS(unit string, v int64, t types.T) (types.Decimal, error) {
	u := normUnit(unit)
	days, us := floorDiv(v, usDay)
	y, m, d := civil(days)
	switch u {
	case "year":
		if y <= 0 {
			return intDec(y - 1), nil
		}
		return intDec(y), nil
	case "month":
		return intDec(int64(m)), nil
	case "day":
		return intDec(int64(d)), nil
	case "hour":
		return intDec(us / 3_600_000_000), nil
	case "minute":
		return intDec(us / 60_000_000 % 60), nil
	case "second":
		return microsDec(us%60_000_000, 6), nil
	case "millisecond":
		return types.NewDecimal(big.NewInt(us%60_000_000), 3), nil
	case "microsecond":
		return intDec(us % 60_000_000), nil
	case "epoch":
		return microsDec(v, 6), nil
	case "timezone", "timezone_hour", "timezone_minute":
		if t == tstz {
			return intDec(0), nil
		}
		return types.Decimal{}, notSupported(unit, t)
	}
	f, ok := calendarField(u, days, y, m, d)
	if !ok {
		return types.Decimal{}, notRecognized(unit, t)
	}
	return intDec(f), nil
}

func extractInterval(unit string, iv types.IntervalValue) (types.Decimal, error) {
	switch normUnit(unit) {
	case "year":
		return intDec(int64(iv.Months / 12)), nil
	case "month":
		return intDec(int64(iv.Months % 12)), nil
	case "day":
		return intDec(int64(iv.Days)), nil
	case "hour":
		return intDec(iv.Micros / 3_600_000_000), nil
	case "minute":
		return intDec(iv.Micros / 60_000_000 % 60), nil
	case "second":
		return microsDec(iv.Micros%60_000_000, 6), nil
	case "millisecond":
		return types.NewDecimal(big.NewInt(iv.Micros%60_000_000), 3), nil
	case "microsecond":
		return intDec(iv.Micros % 60_000_000), nil
	case "epoch":
		// 365.25 days per year, 30 per month, as PostgreSQL.
		secs := new(big.Int).SetInt64(int64(iv.Months/12) * 31557600)
		secs.Add(secs, big.NewInt(int64(iv.Months%12)*30*86400))
		secs.Add(secs, big.NewInt(int64(iv.Days)*86400))
		us := new(big.Int).Mul(secs, big.NewInt(1_000_000))
		us.Add(us, big.NewInt(iv.Micros))
		return types.NewDecimal(us, 6), nil
	case "quarter":
		return intDec(int64(iv.Months%12/3 + 1)), nil
	case "decade":
		return intDec(int64(iv.Months / 120)), nil
	case "century":
		return intDec(int64(iv.Months / 1200)), nil
	case "millennium":
		return intDec(int64(iv.Months / 12000)), nil
	}
	return types.Decimal{}, notRecognized(unit, ival)
}

func extractTime(unit string, t types.TimeValue) (types.Decimal, error) {
	us := int64(t)
	switch normUnit(unit) {
	case "hour":
		return intDec(us / 3_600_000_000), nil
	case "minute":
		return intDec(us / 60_000_000 % 60), nil
	case "second":
		return microsDec(us%60_000_000, 6), nil
	case "millisecond":
		return types.NewDecimal(big.NewInt(us%60_000_000), 3), nil
	case "microsecond":
		return intDec(us % 60_000_000), nil
	case "epoch":
		return microsDec(us, 6), nil
	case "year", "month", "day", "dow", "doy", "week", "quarter", "decade", "century", "millennium":
		return types.Decimal{}, notSupported(unit, tm)
	}
	return types.Decimal{}, notRecognized(unit, tm)
}

// Extract computes EXTRACT(unit FROM v) as a numeric.
func Extract(unit string, v any) (types.Decimal, error) {
	switch x := v.(type) {
	case types.DateValue:
		return extractDate(unit, x)
	case types.TimestampValue:
		return extractTS(unit, int64(x), ts)
	case types.TimestampTZValue:
		return extractTS(unit, int64(x), tstz)
	case types.IntervalValue:
		return extractInterval(unit, x)
	case types.TimeValue:
		return extractTime(unit, x)
	}
	return types.Decimal{}, sqlerr.New(sqlerr.CodeInternalError, "extract from %T", v)
}

// truncTS implements date_trunc over microseconds since the epoch.
func truncTS(unit string, v int64, t types.T) (int64, error) {
	days, us := floorDiv(v, usDay)
	y, m, d := civil(days)
	mk := func(y int64, m, d int) int64 {
		return time.Date(int(y), time.Month(m), d, 0, 0, 0, 0, time.UTC).Unix() / 86400 * usDay
	}
	switch normUnit(unit) {
	case "microsecond":
		return v, nil
	case "millisecond":
		return days*usDay + us/1000*1000, nil
	case "second":
		return days*usDay + us/1_000_000*1_000_000, nil
	case "minute":
		return days*usDay + us/60_000_000*60_000_000, nil
	case "hour":
		return days*usDay + us/3_600_000_000*3_600_000_000, nil
	case "day":
		return days * usDay, nil
	case "week":
		wd := (int64(time.Unix(days*86400, 0).UTC().Weekday()) + 6) % 7 // Monday = 0
		return (days - wd) * usDay, nil
	case "month":
		return mk(y, m, 1), nil
	case "quarter":
		return mk(y, (m-1)/3*3+1, 1), nil
	case "year":
		return mk(y, 1, 1), nil
	case "decade":
		return mk(y-y%10, 1, 1), nil
	case "century":
		return mk((y-1)/100*100+1, 1, 1), nil
	case "millennium":
		return mk((y-1)/1000*1000+1, 1, 1), nil
	}
	_ = d
	return 0, sqlerr.New(sqlerr.CodeInvalidParameterValue, "unit %q not recognized for type %s", unit, t.SQLName())
}

func init() {
	for _, t := range []types.T{date, ts, tstz, ival, tm} {
		register("extract", num, func(a []any) (any, error) { return Extract(str(a[0]), a[1]) }, text, t)
		register("date_part", f8, func(a []any) (any, error) {
			d, err := Extract(str(a[0]), a[1])
			if err != nil {
				return nil, err
			}
			return d.Float64(), nil
		}, text, t)
	}
	register("date_trunc", ts, func(a []any) (any, error) {
		v, err := truncTS(str(a[0]), int64(a[1].(types.TimestampValue)), ts)
		return types.TimestampValue(v), err
	}, text, ts)
	register("date_trunc", tstz, func(a []any) (any, error) {
		v, err := truncTS(str(a[0]), int64(a[1].(types.TimestampTZValue)), tstz)
		return types.TimestampTZValue(v), err
	}, text, tstz)
	register("make_date", date, func(a []any) (any, error) {
		y, m, d := i64(a[0]), i64(a[1]), i64(a[2])
		s := types.FormatText(a[0]) + "-" + types.FormatText(a[1]) + "-" + types.FormatText(a[2])
		if y == 0 {
			return nil, sqlerr.New(sqlerr.CodeDatetimeFieldOverflow, "date field value out of range: %s", s)
		}
		if y < 0 {
			y++
		}
		if m < 1 || m > 12 || d < 1 || d > 31 {
			return nil, sqlerr.New(sqlerr.CodeDatetimeFieldOverflow, "date field value out of range: %s", s)
		}
		t := time.Date(int(y), time.Month(m), int(d), 0, 0, 0, 0, time.UTC)
		if t.Day() != int(d) {
			return nil, sqlerr.New(sqlerr.CodeDatetimeFieldOverflow, "date field value out of range: %s", s)
		}
		days, _ := floorDiv(t.Unix(), 86400)
		return types.DateValue(days), nil
	}, i4, i4, i4)
	register("age", ival, func(a []any) (any, error) {
		return types.Age(int64(a[0].(types.TimestampValue)), int64(a[1].(types.TimestampValue))), nil
	}, ts, ts)
	register("age", ival, func(a []any) (any, error) {
		return types.Age(int64(a[0].(types.TimestampTZValue)), int64(a[1].(types.TimestampTZValue))), nil
	}, tstz, tstz)
	register("justify_days", ival, func(a []any) (any, error) {
		iv := a[0].(types.IntervalValue)
		return types.IntervalValue{Months: iv.Months + iv.Days/30, Days: iv.Days % 30, Micros: iv.Micros}, nil
	}, ival)
	register("justify_hours", ival, func(a []any) (any, error) {
		iv := a[0].(types.IntervalValue)
		return types.IntervalValue{Months: iv.Months, Days: iv.Days + int32(iv.Micros/usDay), Micros: iv.Micros % usDay}, nil
	}, ival)
	register("isfinite", b, func([]any) (any, error) { return true, nil }, date)
	register("isfinite", b, func([]any) (any, error) { return true, nil }, ts)
}
