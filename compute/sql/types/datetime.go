package types

import (
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"

	"github.com/phantom-db/phantom/compute/sql/sqlerr"
)

// DateValue is a calendar date: days since 1970-01-01 (proleptic Gregorian).
type DateValue int32

// TimestampValue is a timestamp without time zone: microseconds since
// 1970-01-01 00:00:00.
type TimestampValue int64

// TimestampTZValue is a timestamp with time zone: microseconds since
// 1970-01-01 00:00:00 UTC. The session time zone is UTC.
type TimestampTZValue int64

// TimeValue is a time of day without time zone: microseconds since
// midnight, 0 to 24:00:00 inclusive.
type TimeValue int64

// IntervalValue is PostgreSQL's interval: months, days and microseconds kept
// apart (a month is not a fixed number of days).
type IntervalValue struct {
	Months int32
	Days   int32
	Micros int64
}

const (
	usPerSec  = int64(1_000_000)
	usPerMin  = 60 * usPerSec
	usPerHour = 60 * usPerMin
	usPerDay  = 24 * usPerHour
	secPerDay = int64(86400)
)

// Date range: PostgreSQL's 4713-11-24 BC .. 5874897-12-31. Timestamps
// stop at the end of 293999 AD (PostgreSQL: 294276 AD), since microseconds
// since 1970 rather than 2000 must fit in an int64.
var (
	minDate = civilDays(-4713, 11, 24)
	maxDate = civilDays(5874897, 12, 31)
	minTS   = civilDays(-4713, 11, 24) * usPerDay
	maxTS   = civilDays(294000, 1, 1)*usPerDay - 1
)

// civilDays returns the days since 1970-01-01 of a proleptic Gregorian
// date with astronomical year numbering (year 0 is 1 BC).
func civilDays(y int64, m, d int) int64 {
	// Howard Hinnant's days_from_civil.
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 && y%400 != 0 {
		era = (y - 399) / 400
	}
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + int64(doy)
	return era*146097 + doe - 719468
}

// civil is the inverse of civilDays.
func civil(z int64) (y int64, m, d int) {
	z += 719468
	era := z / 146097
	if z < 0 && z%146097 != 0 {
		era = (z - 146096) / 146097
	}
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y = yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d = int(doy - (153*mp+2)/5 + 1)
	m = int(mp + 3)
	if m > 12 {
		m -= 12
	}
	if m <= 2 {
		y++
	}
	return y, m, d
}

func isLeap(y int64) bool { return y%4 == 0 && (y%100 != 0 || y%400 == 0) }

func daysIn(y int64, m int) int {
	switch m {
	case 2:
		if isLeap(y) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

func badDatetime(t T, s string) error {
	return sqlerr.New(sqlerr.CodeInvalidDatetimeFormat, "invalid input syntax for type %s: %q", t.SQLName(), s)
}

func fieldOverflow(s string) error {
	return sqlerr.New(sqlerr.CodeDatetimeFieldOverflow, "date/time field value out of range: %q", s)
}

// dateFields parses the date part: YYYY-MM-DD, YYYYMMDD or MM/DD/YYYY,
// with an optional trailing BC handled by the caller.
func dateFields(p string) (y int64, m, d int, ok bool) {
	atoi := func(s string) (int64, bool) {
		if s == "" {
			return 0, false
		}
		for _, c := range s {
			if c < '0' || c > '9' {
				return 0, false
			}
		}
		v, err := strconv.ParseInt(s, 10, 64)
		return v, err == nil
	}
	var parts []string
	switch {
	case strings.Count(p, "-") == 2:
		parts = strings.Split(p, "-")
	case strings.Count(p, "/") == 2:
		q := strings.Split(p, "/")
		parts = []string{q[2], q[0], q[1]}
	case len(p) == 8:
		parts = []string{p[:4], p[4:6], p[6:]}
	default:
		return 0, 0, 0, false
	}
	yy, ok1 := atoi(parts[0])
	mm, ok2 := atoi(parts[1])
	dd, ok3 := atoi(parts[2])
	if !ok1 || !ok2 || !ok3 || mm > 1000 || dd > 1000 {
		return 0, 0, 0, false
	}
	return yy, int(mm), int(dd), true
}

// ParseDate parses date input ('2024-01-02', '2024-01-02 BC', '01/02/2024',
// '20240102'); a time part is allowed and ignored, as in PostgreSQL.
func ParseDate(s string) (DateValue, error) {
	t := strings.TrimSpace(s)
	switch strings.ToLower(t) {
	case "epoch":
		return 0, nil
	}
	days, _, _, err := parseDateTime(t, s, Date)
	if err != nil {
		return 0, err
	}
	return DateValue(days), nil
}

// parseDateTime parses [date][ |T][time][ zone][ BC] and returns the days,
// the microseconds of the day, the zone offset in seconds (0 when absent)
// and an error naming type t.
func parseDateTime(t string, orig string, typ T) (days, us int64, off int64, err error) {
	bc := false
	low := strings.ToLower(t)
	if strings.HasSuffix(low, " bc") {
		bc = true
		t = strings.TrimSpace(t[:len(t)-3])
	} else if strings.HasSuffix(low, " ad") {
		t = strings.TrimSpace(t[:len(t)-3])
	}
	datePart, rest := t, ""
	if i := strings.IndexAny(t, " T"); i >= 0 {
		datePart, rest = t[:i], strings.TrimSpace(t[i+1:])
	}
	y, m, d, ok := dateFields(datePart)
	if !ok {
		return 0, 0, 0, badDatetime(typ, orig)
	}
	if bc {
		if y == 0 {
			return 0, 0, 0, badDatetime(typ, orig)
		}
		y = 1 - y
	}
	if m < 1 || m > 12 || d < 1 || d > daysIn(y, m) {
		return 0, 0, 0, fieldOverflow(orig)
	}
	days = civilDays(y, m, d)
	if rest != "" {
		// zone suffix
		zone := ""
		if i := strings.IndexAny(rest, "+-"); i >= 0 {
			rest, zone = strings.TrimSpace(rest[:i]), rest[i:]
		} else if j := strings.IndexByte(rest, ' '); j >= 0 {
			rest, zone = rest[:j], strings.TrimSpace(rest[j+1:])
		} else if strings.HasSuffix(rest, "Z") || strings.HasSuffix(rest, "z") {
			rest, zone = rest[:len(rest)-1], "Z"
		}
		if rest != "" {
			tu, err := parseClock(rest, orig, typ)
			if err != nil {
				return 0, 0, 0, err
			}
			us = tu
		}
		if zone != "" {
			if off, err = parseZone(zone); err != nil {
				return 0, 0, 0, badDatetime(typ, orig)
			}
		}
	}
	if days < minDate || days > maxDate {
		return 0, 0, 0, sqlerr.New(sqlerr.CodeDatetimeFieldOverflow, "date out of range: %q", orig)
	}
	return days, us, off, nil
}

// parseZone parses Z, UTC, GMT, +HH, +HH:MM, +HHMM into seconds east.
func parseZone(z string) (int64, error) {
	switch strings.ToUpper(z) {
	case "Z", "UTC", "GMT", "ZULU":
		return 0, nil
	}
	if len(z) < 2 || (z[0] != '+' && z[0] != '-') {
		return 0, fmt.Errorf("bad zone")
	}
	sign := int64(1)
	if z[0] == '-' {
		sign = -1
	}
	body := strings.ReplaceAll(z[1:], ":", "")
	var h, mi int64
	var err error
	switch len(body) {
	case 1, 2:
		h, err = strconv.ParseInt(body, 10, 64)
	case 4:
		h, err = strconv.ParseInt(body[:2], 10, 64)
		if err == nil {
			mi, err = strconv.ParseInt(body[2:], 10, 64)
		}
	default:
		return 0, fmt.Errorf("bad zone")
	}
	if err != nil || h > 15 || mi > 59 {
		return 0, fmt.Errorf("bad zone")
	}
	return sign * (h*3600 + mi*60), nil
}

// parseClock parses HH:MM[:SS[.ffffff]] into microseconds (24:00:00 allowed).
func parseClock(s, orig string, typ T) (int64, error) {
	parts := strings.Split(s, ":")
	if len(parts) < 2 || len(parts) > 3 {
		return 0, badDatetime(typ, orig)
	}
	num := func(p string) (int64, bool) {
		if p == "" || len(p) > 9 {
			return 0, false
		}
		for _, c := range p {
			if c < '0' || c > '9' {
				return 0, false
			}
		}
		v, _ := strconv.ParseInt(p, 10, 64)
		return v, true
	}
	h, ok1 := num(parts[0])
	mi, ok2 := num(parts[1])
	if !ok1 || !ok2 {
		return 0, badDatetime(typ, orig)
	}
	var sec, frac int64
	if len(parts) == 3 {
		sp, fp := parts[2], ""
		if i := strings.IndexByte(sp, '.'); i >= 0 {
			sp, fp = sp[:i], sp[i+1:]
		}
		var ok bool
		if sec, ok = num(sp); !ok {
			return 0, badDatetime(typ, orig)
		}
		if fp != "" {
			for _, c := range fp {
				if c < '0' || c > '9' {
					return 0, badDatetime(typ, orig)
				}
			}
			f, _ := strconv.ParseFloat("0."+fp, 64)
			frac = int64(math.RoundToEven(f * 1e6))
		}
	}
	if h > 24 || mi > 59 || sec > 60 || (h == 24 && (mi > 0 || sec > 0 || frac > 0)) {
		return 0, fieldOverflow(orig)
	}
	return h*usPerHour + mi*usPerMin + sec*usPerSec + frac, nil
}

// ParseTimestamp parses timestamp input; a zone suffix is ignored.
func ParseTimestamp(s string) (TimestampValue, error) {
	t := strings.TrimSpace(s)
	if strings.EqualFold(t, "epoch") {
		return 0, nil
	}
	days, us, _, err := parseDateTime(t, s, Timestamp)
	if err != nil {
		return 0, err
	}
	v := days*usPerDay + us
	if v < minTS || v > maxTS {
		return 0, sqlerr.New(sqlerr.CodeDatetimeFieldOverflow, "timestamp out of range: %q", s)
	}
	return TimestampValue(v), nil
}

// ParseTimestampTZ parses timestamptz input; without a zone the session
// zone (UTC) applies.
func ParseTimestampTZ(s string) (TimestampTZValue, error) {
	t := strings.TrimSpace(s)
	if strings.EqualFold(t, "epoch") {
		return 0, nil
	}
	days, us, off, err := parseDateTime(t, s, TimestampTZ)
	if err != nil {
		return 0, err
	}
	v := days*usPerDay + us - off*usPerSec
	if v < minTS || v > maxTS {
		return 0, sqlerr.New(sqlerr.CodeDatetimeFieldOverflow, "timestamp out of range: %q", s)
	}
	return TimestampTZValue(v), nil
}

// ParseTime parses time-of-day input.
func ParseTime(s string) (TimeValue, error) {
	t := strings.TrimSpace(s)
	us, err := parseClock(t, s, Time)
	if err != nil {
		return 0, err
	}
	return TimeValue(us), nil
}

func appendYMD(b []byte, days int64) ([]byte, bool) {
	y, m, d := civil(days)
	bc := y <= 0
	if bc {
		y = 1 - y
	}
	if y < 1000 {
		b = append(b, fmt.Sprintf("%04d", y)...)
	} else {
		b = strconv.AppendInt(b, y, 10)
	}
	b = append(b, fmt.Sprintf("-%02d-%02d", m, d)...)
	return b, bc
}

func appendClock(b []byte, us int64) []byte {
	h := us / usPerHour
	mi := us / usPerMin % 60
	s := us / usPerSec % 60
	f := us % usPerSec
	b = append(b, fmt.Sprintf("%02d:%02d:%02d", h, mi, s)...)
	if f != 0 {
		fs := strings.TrimRight(fmt.Sprintf("%06d", f), "0")
		b = append(b, '.')
		b = append(b, fs...)
	}
	return b
}

func floorDiv(a, b int64) (int64, int64) {
	q, r := a/b, a%b
	if r < 0 {
		q--
		r += b
	}
	return q, r
}

// String prints the date as PostgreSQL does (ISO, BC suffix).
func (d DateValue) String() string {
	b, bc := appendYMD(nil, int64(d))
	if bc {
		b = append(b, " BC"...)
	}
	return string(b)
}

// String prints the timestamp as PostgreSQL does.
func (t TimestampValue) String() string {
	days, us := floorDiv(int64(t), usPerDay)
	b, bc := appendYMD(nil, days)
	b = append(b, ' ')
	b = appendClock(b, us)
	if bc {
		b = append(b, " BC"...)
	}
	return string(b)
}

// String prints the timestamptz in UTC with its +00 offset.
func (t TimestampTZValue) String() string {
	days, us := floorDiv(int64(t), usPerDay)
	b, bc := appendYMD(nil, days)
	b = append(b, ' ')
	b = appendClock(b, us)
	b = append(b, "+00"...)
	if bc {
		b = append(b, " BC"...)
	}
	return string(b)
}

// String prints the time of day.
func (t TimeValue) String() string { return string(appendClock(nil, int64(t))) }

// String prints the interval in PostgreSQL's default (postgres) style.
func (iv IntervalValue) String() string {
	var b []byte
	isZero, isBefore := true, false
	part := func(v int64, unit string) {
		if v == 0 {
			return
		}
		if !isZero {
			b = append(b, ' ')
		}
		if isBefore && v > 0 {
			b = append(b, '+')
		}
		b = strconv.AppendInt(b, v, 10)
		b = append(b, ' ')
		b = append(b, unit...)
		if v != 1 {
			b = append(b, 's')
		}
		isBefore = v < 0
		isZero = false
	}
	part(int64(iv.Months/12), "year")
	part(int64(iv.Months%12), "mon")
	part(int64(iv.Days), "day")
	if isZero || iv.Micros != 0 {
		if !isZero {
			b = append(b, ' ')
		}
		us := iv.Micros
		if us < 0 {
			b = append(b, '-')
			us = -us
		} else if isBefore {
			b = append(b, '+')
		}
		b = appendClock(b, us)
	}
	return string(b)
}

// span returns the interval's length with 30-day months, in microseconds,
// as PostgreSQL compares intervals.
func (iv IntervalValue) span() *big.Int {
	d := big.NewInt(int64(iv.Months)*30 + int64(iv.Days))
	d.Mul(d, big.NewInt(usPerDay))
	return d.Add(d, big.NewInt(iv.Micros))
}

// Cmp compares two intervals by span.
func (iv IntervalValue) Cmp(o IntervalValue) int { return iv.span().Cmp(o.span()) }

// intervalUnits maps unit words to (months, days, micros) per unit.
var intervalUnits = map[string][3]float64{}

func init() {
	add := func(v [3]float64, names ...string) {
		for _, n := range names {
			intervalUnits[n] = v
		}
	}
	add([3]float64{0, 0, 1}, "microsecond", "microseconds", "us", "usec", "usecs", "microsecon")
	add([3]float64{0, 0, 1000}, "millisecond", "milliseconds", "ms", "msec", "msecs")
	add([3]float64{0, 0, 1e6}, "second", "seconds", "s", "sec", "secs")
	add([3]float64{0, 0, 60e6}, "minute", "minutes", "m", "min", "mins")
	add([3]float64{0, 0, 3600e6}, "hour", "hours", "h", "hr", "hrs")
	add([3]float64{0, 1, 0}, "day", "days", "d")
	add([3]float64{0, 7, 0}, "week", "weeks", "w")
	add([3]float64{1, 0, 0}, "month", "months", "mon", "mons")
	add([3]float64{12, 0, 0}, "year", "years", "y", "yr", "yrs")
	add([3]float64{120, 0, 0}, "decade", "decades")
	add([3]float64{1200, 0, 0}, "century", "centuries")
	add([3]float64{12000, 0, 0}, "millennium", "millennia", "millenniums")
}

// ParseInterval parses PostgreSQL interval input in the postgres style:
// number-unit pairs ('1 year 2 mons', '1.5 days', '-3 hours'), clock
// fields ('01:02:03', '-1 day 02:00'), a bare number of seconds, '@' and
// 'ago'.
func ParseInterval(s string) (IntervalValue, error) {
	bad := func() (IntervalValue, error) { return IntervalValue{}, badDatetime(Interval, s) }
	f := strings.Fields(strings.ToLower(strings.TrimSpace(s)))
	if len(f) > 0 && f[0] == "@" {
		f = f[1:]
	}
	ago := false
	if len(f) > 0 && f[len(f)-1] == "ago" {
		ago = true
		f = f[:len(f)-1]
	}
	if len(f) == 0 {
		return bad()
	}
	var months, days, micros float64
	var fm, fd int64
	var us int64
	seen := false
	for i := 0; i < len(f); i++ {
		tok := f[i]
		if strings.Contains(tok, ":") {
			neg := false
			body := tok
			if body[0] == '-' || body[0] == '+' {
				neg = body[0] == '-'
				body = body[1:]
			}
			parts := strings.Split(body, ":")
			if len(parts) == 2 {
				body += ":00"
			}
			v, err := parseClockInterval(body)
			if err != nil {
				return bad()
			}
			if neg {
				v = -v
			}
			us += v
			seen = true
			continue
		}
		// number, possibly with the unit glued on ("1day")
		j := 0
		for j < len(tok) && (tok[j] == '-' || tok[j] == '+' || tok[j] == '.' || (tok[j] >= '0' && tok[j] <= '9')) {
			j++
		}
		numStr, unit := tok[:j], tok[j:]
		if numStr == "" {
			return bad()
		}
		n, err := strconv.ParseFloat(numStr, 64)
		if err != nil {
			return bad()
		}
		if unit == "" && i+1 < len(f) {
			if _, ok := intervalUnits[f[i+1]]; ok {
				unit = f[i+1]
				i++
			}
		}
		if unit == "" {
			unit = "seconds"
		}
		u, ok := intervalUnits[unit]
		if !ok {
			return bad()
		}
		months += n * u[0]
		days += n * u[1]
		micros += n * u[2]
		seen = true
	}
	if !seen {
		return bad()
	}
	// Fractions spill down: months to 30-day days, days to 24-hour days.
	fm = int64(months)
	fracM := months - float64(fm)
	days += fracM * 30
	fd = int64(days)
	fracD := days - float64(fd)
	micros += fracD * float64(usPerDay)
	total := int64(math.Round(micros)) + us
	if math.Abs(months) > math.MaxInt32 || math.Abs(days) > math.MaxInt32 {
		return IntervalValue{}, sqlerr.New(sqlerr.CodeDatetimeFieldOverflow, "interval field value out of range: %q", s)
	}
	iv := IntervalValue{Months: int32(fm), Days: int32(fd), Micros: total}
	if ago {
		iv = iv.Neg()
	}
	return iv, nil
}

func parseClockInterval(s string) (int64, error) {
	parts := strings.Split(s, ":")
	if len(parts) != 3 {
		return 0, fmt.Errorf("bad clock")
	}
	h, err := strconv.ParseInt(parts[0], 10, 64)
	if err != nil {
		return 0, err
	}
	mi, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil || mi > 59 {
		return 0, fmt.Errorf("bad minutes")
	}
	sec, err := strconv.ParseFloat(parts[2], 64)
	if err != nil || sec >= 60 {
		return 0, fmt.Errorf("bad seconds")
	}
	return h*usPerHour + mi*usPerMin + int64(math.Round(sec*1e6)), nil
}

// Neg returns -iv.
func (iv IntervalValue) Neg() IntervalValue { return IntervalValue{-iv.Months, -iv.Days, -iv.Micros} }

// Add returns iv + o.
func (iv IntervalValue) Add(o IntervalValue) IntervalValue {
	return IntervalValue{iv.Months + o.Months, iv.Days + o.Days, iv.Micros + o.Micros}
}

// Mul multiplies an interval by a float as PostgreSQL's interval_mul does:
// fractional months spill into days (30 per month), fractional days into
// microseconds.
func (iv IntervalValue) Mul(f float64) (IntervalValue, error) {
	m := float64(iv.Months) * f
	d := float64(iv.Days) * f
	if math.IsNaN(m) || math.Abs(m) > math.MaxInt32 || math.Abs(d) > math.MaxInt32 {
		return IntervalValue{}, sqlerr.New(sqlerr.CodeDatetimeFieldOverflow, "interval out of range")
	}
	mi := math.Trunc(m)
	d += (m - mi) * 30
	di := math.Trunc(d)
	us := float64(iv.Micros)*f + (d-di)*float64(usPerDay)
	if math.Abs(us) > 9.2e18 {
		return IntervalValue{}, sqlerr.New(sqlerr.CodeDatetimeFieldOverflow, "interval out of range")
	}
	return IntervalValue{int32(mi), int32(di), int64(math.RoundToEven(us))}, nil
}

// addMonths adds months to a civil date, clamping the day to the month's
// last day.
func addMonths(days int64, months int32) int64 {
	y, m, d := civil(days)
	tot := y*12 + int64(m-1) + int64(months)
	ny, nm := floorDiv(tot, 12)
	m2 := int(nm) + 1
	if d > daysIn(ny, m2) {
		d = daysIn(ny, m2)
	}
	return civilDays(ny, m2, d)
}

// AddInterval adds an interval to microseconds since the epoch (a
// timestamp): months by the calendar, then days, then time.
func AddInterval(ts int64, iv IntervalValue) (int64, error) {
	days, us := floorDiv(ts, usPerDay)
	if iv.Months != 0 {
		days = addMonths(days, iv.Months)
	}
	days += int64(iv.Days)
	out := days*usPerDay + us + iv.Micros
	if out < minTS || out > maxTS {
		return 0, sqlerr.New(sqlerr.CodeDatetimeFieldOverflow, "timestamp out of range")
	}
	return out, nil
}

// SubTimestamps returns a - b as PostgreSQL's timestamp_mi: days and time,
// hours justified into days.
func SubTimestamps(a, b int64) IntervalValue {
	d := a - b
	return IntervalValue{Days: int32(d / usPerDay), Micros: d % usPerDay}
}

// Fields returns the civil fields of microseconds since the epoch.
func tsFields(ts int64) (y int64, mo, d int, us int64) {
	days, us := floorDiv(ts, usPerDay)
	y, mo, d = civil(days)
	return y, mo, d, us
}

// Age returns PostgreSQL's age(a, b): the symbolic difference in years,
// months, days and time.
func Age(a, b int64) IntervalValue {
	neg := a < b
	if neg {
		a, b = b, a
	}
	y1, m1, d1, t1 := tsFields(a)
	y2, m2, d2, t2 := tsFields(b)
	fus := t1 - t2
	fd := d1 - d2
	fm := m1 - m2
	fy := y1 - y2
	if fus < 0 {
		fus += usPerDay
		fd--
	}
	for fd < 0 {
		// borrow the days of the earlier timestamp's month, as PostgreSQL
		fd += daysIn(y2, m2)
		fm--
	}
	for fm < 0 {
		fm += 12
		fy--
	}
	iv := IntervalValue{Months: int32(fy*12 + int64(fm)), Days: int32(fd), Micros: fus}
	if neg {
		iv = iv.Neg()
	}
	return iv
}
