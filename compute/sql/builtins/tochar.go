package builtins

import (
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/phantom-db/phantom/compute/sql/sqlerr"
	"github.com/phantom-db/phantom/compute/sql/types"
)

// to_char formats dates, times, intervals and numbers by PostgreSQL's
// template patterns (the "Data Type Formatting Functions" chapter of its
// manual). Date/time templates support the fields PostgreSQL documents
// except the localized (TM) names, which print in English, and the
// time-zone fields, which print UTC (the session zone is UTC). Numeric
// templates support 9 0 . , D G S MI PL SG PR FM EEEE TH and V; RN (Roman
// numerals) and L (currency) are not supported (0A000).

func init() {
	for _, t := range []types.T{ts, tstz, date} {
		t := t
		register("to_char", text, func(a []any) (any, error) {
			var us int64
			switch v := a[0].(type) {
			case types.TimestampValue:
				us = int64(v)
			case types.TimestampTZValue:
				us = int64(v)
			case types.DateValue:
				us = int64(v) * usDay
			}
			return formatDateTime(us, str(a[1]), t == tstz), nil
		}, t, text)
	}
	register("to_char", text, func(a []any) (any, error) {
		return formatInterval(a[0].(types.IntervalValue), str(a[1])), nil
	}, ival, text)
	register("to_char", text, func(a []any) (any, error) {
		return formatNumber(dec(a[0]), str(a[1]))
	}, num, text)
	for _, t := range []types.T{i2, i4, i8} {
		register("to_char", text, func(a []any) (any, error) {
			return formatNumber(types.DecimalFromInt(i64(a[0])), str(a[1]))
		}, t, text)
	}
	for _, t := range []types.T{f4, f8} {
		digits := 15
		if t == f4 {
			digits = 6
		}
		register("to_char", text, func(a []any) (any, error) {
			d, err := types.DecimalFromFloat(f64(a[0]), digits)
			if err != nil {
				return nil, err
			}
			return formatNumber(d, str(a[1]))
		}, t, text)
	}
}

// dtField is what a date/time template field reads.
type dtField struct {
	name string
	// text fields print names and honour the keyword's case; numeric ones
	// are zero-padded to width unless FM is given.
	fn func(c *dtParts, kw string) (string, bool) // value, numeric
}

// dtParts are the broken-down fields of the value being formatted.
type dtParts struct {
	t        time.Time
	us       int64 // microseconds within the second
	interval bool
	ivHours  int64
	tz       bool
	julian   int64
}

// dtFields are matched longest first, case-insensitively, at each
// position of the template.
var dtFields = []dtField{
	{"Y,YYY", func(c *dtParts, _ string) (string, bool) {
		y := c.year()
		return strconv.FormatInt(y/1000, 10) + "," + pad(strconv.FormatInt(y%1000, 10), 3), false
	}},
	{"YYYY", func(c *dtParts, _ string) (string, bool) { return pad(strconv.FormatInt(c.year(), 10), 4), true }},
	{"YYY", func(c *dtParts, _ string) (string, bool) { return lastDigits(c.year(), 3), true }},
	{"YY", func(c *dtParts, _ string) (string, bool) { return lastDigits(c.year(), 2), true }},
	{"Y", func(c *dtParts, _ string) (string, bool) { return lastDigits(c.year(), 1), true }},
	{"IYYY", func(c *dtParts, _ string) (string, bool) { y, _ := c.t.ISOWeek(); return pad(strconv.Itoa(y), 4), true }},
	{"IYY", func(c *dtParts, _ string) (string, bool) { y, _ := c.t.ISOWeek(); return lastDigits(int64(y), 3), true }},
	{"IY", func(c *dtParts, _ string) (string, bool) { y, _ := c.t.ISOWeek(); return lastDigits(int64(y), 2), true }},
	{"IDDD", func(c *dtParts, _ string) (string, bool) {
		_, w := c.t.ISOWeek()
		return pad(strconv.Itoa((w-1)*7+isoDay(c.t)), 3), true
	}},
	{"ID", func(c *dtParts, _ string) (string, bool) { return strconv.Itoa(isoDay(c.t)), true }},
	{"IW", func(c *dtParts, _ string) (string, bool) { _, w := c.t.ISOWeek(); return pad(strconv.Itoa(w), 2), true }},
	{"I", func(c *dtParts, _ string) (string, bool) { y, _ := c.t.ISOWeek(); return lastDigits(int64(y), 1), true }},
	{"HH24", func(c *dtParts, _ string) (string, bool) { return pad(strconv.FormatInt(c.hour(), 10), 2), true }},
	{"HH12", func(c *dtParts, _ string) (string, bool) { return pad(strconv.FormatInt(c.hour12(), 10), 2), true }},
	{"HH", func(c *dtParts, _ string) (string, bool) { return pad(strconv.FormatInt(c.hour12(), 10), 2), true }},
	{"MI", func(c *dtParts, _ string) (string, bool) { return pad(strconv.Itoa(c.t.Minute()), 2), true }},
	{"SSSSS", func(c *dtParts, _ string) (string, bool) { return strconv.FormatInt(c.secOfDay(), 10), true }},
	{"SSSS", func(c *dtParts, _ string) (string, bool) { return strconv.FormatInt(c.secOfDay(), 10), true }},
	{"SS", func(c *dtParts, _ string) (string, bool) { return pad(strconv.Itoa(c.t.Second()), 2), true }},
	{"MS", func(c *dtParts, _ string) (string, bool) { return pad(strconv.FormatInt(c.us/1000, 10), 3), true }},
	{"US", func(c *dtParts, _ string) (string, bool) { return pad(strconv.FormatInt(c.us, 10), 6), true }},
	{"FF1", func(c *dtParts, _ string) (string, bool) { return pad(strconv.FormatInt(c.us/100000, 10), 1), true }},
	{"FF2", func(c *dtParts, _ string) (string, bool) { return pad(strconv.FormatInt(c.us/10000, 10), 2), true }},
	{"FF3", func(c *dtParts, _ string) (string, bool) { return pad(strconv.FormatInt(c.us/1000, 10), 3), true }},
	{"FF4", func(c *dtParts, _ string) (string, bool) { return pad(strconv.FormatInt(c.us/100, 10), 4), true }},
	{"FF5", func(c *dtParts, _ string) (string, bool) { return pad(strconv.FormatInt(c.us/10, 10), 5), true }},
	{"FF6", func(c *dtParts, _ string) (string, bool) { return pad(strconv.FormatInt(c.us, 10), 6), true }},
	{"A.M.", func(c *dtParts, kw string) (string, bool) { return caseLike(ampm(c, "A.M.", "P.M."), kw), false }},
	{"P.M.", func(c *dtParts, kw string) (string, bool) { return caseLike(ampm(c, "A.M.", "P.M."), kw), false }},
	{"AM", func(c *dtParts, kw string) (string, bool) { return caseLike(ampm(c, "AM", "PM"), kw), false }},
	{"PM", func(c *dtParts, kw string) (string, bool) { return caseLike(ampm(c, "AM", "PM"), kw), false }},
	{"A.D.", func(c *dtParts, kw string) (string, bool) { return caseLike(era(c, "A.D.", "B.C."), kw), false }},
	{"B.C.", func(c *dtParts, kw string) (string, bool) { return caseLike(era(c, "A.D.", "B.C."), kw), false }},
	{"AD", func(c *dtParts, kw string) (string, bool) { return caseLike(era(c, "AD", "BC"), kw), false }},
	{"BC", func(c *dtParts, kw string) (string, bool) { return caseLike(era(c, "AD", "BC"), kw), false }},
	{"MONTH", func(c *dtParts, kw string) (string, bool) { return nameCase(c.t.Month().String(), kw, 9), false }},
	{"MON", func(c *dtParts, kw string) (string, bool) { return nameCase(c.t.Month().String()[:3], kw, 0), false }},
	{"MM", func(c *dtParts, _ string) (string, bool) { return pad(strconv.Itoa(int(c.t.Month())), 2), true }},
	{"DAY", func(c *dtParts, kw string) (string, bool) { return nameCase(c.t.Weekday().String(), kw, 9), false }},
	{"DY", func(c *dtParts, kw string) (string, bool) { return nameCase(c.t.Weekday().String()[:3], kw, 0), false }},
	{"DDD", func(c *dtParts, _ string) (string, bool) { return pad(strconv.Itoa(c.t.YearDay()), 3), true }},
	{"DD", func(c *dtParts, _ string) (string, bool) { return pad(strconv.Itoa(c.t.Day()), 2), true }},
	{"D", func(c *dtParts, _ string) (string, bool) { return strconv.Itoa(int(c.t.Weekday()) + 1), true }},
	{"WW", func(c *dtParts, _ string) (string, bool) { return pad(strconv.Itoa((c.t.YearDay()-1)/7+1), 2), true }},
	{"W", func(c *dtParts, _ string) (string, bool) { return strconv.Itoa((c.t.Day()-1)/7 + 1), true }},
	{"CC", func(c *dtParts, _ string) (string, bool) {
		y := c.year()
		cc := (y + 99) / 100
		if y <= 0 {
			cc = -((99 - y) / 100)
		}
		return pad(strconv.FormatInt(cc, 10), 2), true
	}},
	{"Q", func(c *dtParts, _ string) (string, bool) { return strconv.Itoa((int(c.t.Month())-1)/3 + 1), true }},
	{"J", func(c *dtParts, _ string) (string, bool) { return strconv.FormatInt(c.julian, 10), true }},
	{"RM", func(c *dtParts, kw string) (string, bool) {
		return nameCase(padRight(romanMonths[c.t.Month()-1], 4), kw, 0), false
	}},
	{"TZH", func(c *dtParts, _ string) (string, bool) { return "+00", false }},
	{"TZM", func(c *dtParts, _ string) (string, bool) { return "00", false }},
	{"TZ", func(c *dtParts, kw string) (string, bool) { return caseLike(c.zone(), kw), false }},
	{"OF", func(c *dtParts, _ string) (string, bool) { return c.offset(), false }},
}

var romanMonths = []string{"I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI", "XII"}

func (c *dtParts) year() int64 {
	y := int64(c.t.Year())
	if y <= 0 && !c.interval {
		return 1 - y // 1 BC is year 0 in Go's proleptic calendar
	}
	return y
}

func (c *dtParts) hour() int64 {
	if c.interval {
		return c.ivHours
	}
	return int64(c.t.Hour())
}

func (c *dtParts) hour12() int64 {
	h := c.hour() % 12
	if h == 0 {
		return 12
	}
	return h
}

func (c *dtParts) secOfDay() int64 {
	return int64(c.t.Hour()*3600 + c.t.Minute()*60 + c.t.Second())
}

func (c *dtParts) zone() string {
	if c.tz {
		return "UTC"
	}
	return ""
}

func (c *dtParts) offset() string {
	if c.tz {
		return "+00"
	}
	return ""
}

func ampm(c *dtParts, am, pm string) string {
	if c.hour()%24 >= 12 {
		return pm
	}
	return am
}

func era(c *dtParts, ad, bc string) string {
	if c.t.Year() <= 0 {
		return bc
	}
	return ad
}

// isoDay is the ISO day of the week, Monday 1 to Sunday 7.
func isoDay(t time.Time) int {
	d := int(t.Weekday())
	if d == 0 {
		return 7
	}
	return d
}

func pad(s string, width int) string {
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	for len(s) < width {
		s = "0" + s
	}
	if neg {
		return "-" + s
	}
	return s
}

func padRight(s string, width int) string {
	for len(s) < width {
		s += " "
	}
	return s
}

func lastDigits(v int64, n int) string {
	s := strconv.FormatInt(v, 10)
	if len(s) > n {
		return s[len(s)-n:]
	}
	return pad(s, n)
}

// caseLike prints s upper case when the keyword's first letter is upper
// case, else lower case (am/pm, a.d., tz).
func caseLike(s, kw string) string {
	if kw[0] >= 'a' && kw[0] <= 'z' {
		return strings.ToLower(s)
	}
	return s
}

// nameCase prints a month or day name as the keyword is written: MONTH
// upper case, Month capitalized, month lower case; padded to width with
// spaces (unless FM is in effect, handled by the caller).
func nameCase(s, kw string, width int) string {
	switch {
	case len(kw) > 1 && kw[0] >= 'A' && kw[0] <= 'Z' && kw[1] >= 'A' && kw[1] <= 'Z':
		s = strings.ToUpper(s)
	case kw[0] >= 'A' && kw[0] <= 'Z':
		s = strings.ToUpper(s[:1]) + strings.ToLower(s[1:])
	default:
		s = strings.ToLower(s)
	}
	return padRight(s, width)
}

// ordinal returns the English ordinal suffix of the number n is written as.
func ordinal(n string) string {
	n = strings.TrimLeft(n, " ")
	if n == "" {
		return ""
	}
	last := n[len(n)-1]
	if len(n) >= 2 && n[len(n)-2] == '1' {
		return "th"
	}
	switch last {
	case '1':
		return "st"
	case '2':
		return "nd"
	case '3':
		return "rd"
	}
	return "th"
}

// formatDateTime formats microseconds since 1970-01-01 by a to_char
// template.
func formatDateTime(us int64, tmpl string, tz bool) string {
	days, rem := floorDiv(us, usDay)
	t := time.Unix(days*86400+rem/1_000_000, 0).UTC()
	c := &dtParts{t: t, us: rem % 1_000_000, tz: tz, julian: days + 2440588}
	return formatDT(c, tmpl)
}

// formatInterval formats an interval: years and months from its months,
// days from its days, and the time fields from its microseconds (hours
// may exceed 23).
func formatInterval(iv types.IntervalValue, tmpl string) string {
	micros := iv.Micros
	neg := micros < 0
	if neg {
		micros = -micros
	}
	secs := micros / 1_000_000
	y, m := int(iv.Months/12), int(iv.Months%12)
	// Years, months, minutes and seconds ride on a date; hours (which may
	// exceed 23) and days are kept apart.
	c := &dtParts{t: time.Date(y, time.Month(m+1), 1, 0, int(secs/60%60), int(secs%60), 0, time.UTC),
		us: micros % 1_000_000, interval: true, ivHours: secs / 3600}
	if neg {
		c.ivHours = -c.ivHours
	}
	return formatDTInterval(c, tmpl, int(iv.Days), m)
}

// formatDTInterval runs the template over interval parts: MM is the
// months part and DD the days part, as PostgreSQL prints them.
func formatDTInterval(c *dtParts, tmpl string, days, months int) string {
	return formatDTWith(c, tmpl, func(name string) (string, bool) {
		switch name {
		case "DD":
			return pad(strconv.Itoa(days), 2), true
		case "MM":
			return pad(strconv.Itoa(months), 2), true
		case "DDD":
			return pad(strconv.Itoa(days), 3), true
		}
		return "", false
	})
}

func formatDT(c *dtParts, tmpl string) string {
	return formatDTWith(c, tmpl, nil)
}

// formatDTWith walks a template: FM/TM/FX prefixes, TH/th/SP suffixes,
// double-quoted literals, backslash escapes and the fields of dtFields;
// anything else is copied.
func formatDTWith(c *dtParts, tmpl string, override func(string) (string, bool)) string {
	var out strings.Builder
	for i := 0; i < len(tmpl); {
		fm := false
		for {
			if i+2 <= len(tmpl) && strings.EqualFold(tmpl[i:i+2], "FM") {
				fm = true
				i += 2
				continue
			}
			if i+2 <= len(tmpl) && (strings.EqualFold(tmpl[i:i+2], "TM") || strings.EqualFold(tmpl[i:i+2], "FX")) {
				i += 2
				continue
			}
			break
		}
		if i >= len(tmpl) {
			break
		}
		switch tmpl[i] {
		case '"':
			i++
			for i < len(tmpl) && tmpl[i] != '"' {
				if tmpl[i] == '\\' && i+1 < len(tmpl) {
					i++
				}
				out.WriteByte(tmpl[i])
				i++
			}
			i++
			continue
		case '\\':
			if i+1 < len(tmpl) {
				out.WriteByte(tmpl[i+1])
				i += 2
				continue
			}
		}
		var f *dtField
		for k := range dtFields {
			n := dtFields[k].name
			if i+len(n) <= len(tmpl) && strings.EqualFold(tmpl[i:i+len(n)], n) {
				f = &dtFields[k]
				break
			}
		}
		if f == nil {
			out.WriteByte(tmpl[i])
			i++
			continue
		}
		kw := tmpl[i : i+len(f.name)]
		i += len(f.name)
		v, numeric := f.fn(c, kw)
		if override != nil {
			if ov, ok := override(f.name); ok {
				v, numeric = ov, true
			}
		}
		if fm {
			if numeric {
				v = trimZeros(v)
			} else {
				v = strings.TrimRight(v, " ")
			}
		}
		if i+2 <= len(tmpl) && (tmpl[i:i+2] == "TH" || tmpl[i:i+2] == "th") {
			if numeric {
				suf := ordinal(v)
				if tmpl[i] == 'T' {
					suf = strings.ToUpper(suf)
				}
				v += suf
			}
			i += 2
		} else if i+2 <= len(tmpl) && strings.EqualFold(tmpl[i:i+2], "SP") {
			i += 2 // spell mode is not implemented by PostgreSQL either
		}
		out.WriteString(v)
	}
	return out.String()
}

// trimZeros drops the leading zeros of a number (FM), keeping one digit.
func trimZeros(s string) string {
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	t := strings.TrimLeft(s, "0")
	if t == "" {
		t = "0"
	}
	if neg {
		return "-" + t
	}
	return t
}

// numTemplate is a parsed numeric to_char template.
type numTemplate struct {
	items    []string // the template split into pattern items and literals
	pre      int      // digit positions before the decimal point
	post     int      // digit positions after it
	zeroFrom int      // index among pre digits of the first 0 (pre when none)
	fm       bool
	sign     bool // S, MI, PL, SG or PR places the sign
	plus     bool // a leading S: the anchored sign prints + too
	pr       bool // PR: a negative number in angle brackets
	eeee     bool
	v        int // digits shifted by V
	hasPoint bool
}

// parseNumTemplate splits tmpl into its items.
func parseNumTemplate(tmpl string) (*numTemplate, error) {
	nt := &numTemplate{}
	afterPoint, afterV := false, false
	up := strings.ToUpper(tmpl)
	for i := 0; i < len(tmpl); {
		switch {
		case strings.HasPrefix(up[i:], "FM"):
			nt.fm = true
			i += 2
		case strings.HasPrefix(up[i:], "EEEE"):
			nt.eeee = true
			nt.items = append(nt.items, "EEEE")
			i += 4
		case tmpl[i] == '9' || tmpl[i] == '0':
			switch {
			case afterV:
				nt.v++
				nt.pre++
			case afterPoint:
				nt.post++
			default:
				if tmpl[i] == '0' && nt.zeroFrom == 0 {
					nt.zeroFrom = nt.pre + 1
				}
				nt.pre++
			}
			nt.items = append(nt.items, tmpl[i:i+1])
			i++
		case tmpl[i] == '.' || up[i] == 'D':
			if afterPoint {
				return nil, sqlerr.New(sqlerr.CodeSyntaxError, "multiple decimal points")
			}
			afterPoint, nt.hasPoint = true, true
			nt.items = append(nt.items, ".")
			i++
		case tmpl[i] == ',' || up[i] == 'G':
			nt.items = append(nt.items, ",")
			i++
		case up[i] == 'V':
			afterV = true
			i++
		case strings.HasPrefix(up[i:], "PR"), strings.HasPrefix(up[i:], "MI"), strings.HasPrefix(up[i:], "PL"), strings.HasPrefix(up[i:], "SG"):
			// PL keeps the default sign slot (a minus goes there); PR
			// prints < there and > at the end.
			switch up[i : i+2] {
			case "PR":
				nt.pr = true
			case "PL":
				nt.items = append(nt.items, "PL")
			default:
				nt.sign = true
				nt.items = append(nt.items, up[i:i+2])
			}
			i += 2
		case up[i] == 'S':
			if nt.pre == 0 && nt.post == 0 {
				// S before the digits is anchored to the number: it
				// prints, + or -, where the default minus would.
				nt.plus = true
			} else {
				nt.sign = true
				nt.items = append(nt.items, "S")
			}
			i++
		case strings.HasPrefix(up[i:], "TH"):
			nt.items = append(nt.items, tmpl[i:i+2])
			i += 2
		case strings.HasPrefix(up[i:], "RN"), up[i] == 'L':
			return nil, sqlerr.NotSupported("to_char with RN or L")
		case tmpl[i] == '"':
			j := i + 1
			for j < len(tmpl) && tmpl[j] != '"' {
				j++
			}
			nt.items = append(nt.items, "\""+tmpl[i+1:min(j, len(tmpl))])
			i = j + 1
		default:
			nt.items = append(nt.items, "\""+tmpl[i:i+1])
			i++
		}
	}
	if nt.zeroFrom == 0 {
		nt.zeroFrom = nt.pre + 1
	}
	return nt, nil
}

// formatNumber formats d by a numeric to_char template.
func formatNumber(d types.Decimal, tmpl string) (string, error) {
	nt, err := parseNumTemplate(tmpl)
	if err != nil {
		return "", err
	}
	if nt.v > 0 {
		d = d.Mul(types.NewDecimal(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(nt.v)), nil), 0))
	}
	neg := d.Sign() < 0
	if neg {
		d = d.Abs()
	}
	if nt.eeee {
		return formatEEEE(d, neg, nt), nil
	}
	r := d.Round(int32(nt.post))
	digits := r.Unscaled().String()
	for len(digits) <= nt.post {
		digits = "0" + digits
	}
	intPart, frac := digits[:len(digits)-nt.post], digits[len(digits)-nt.post:]
	if intPart == "0" {
		intPart = ""
	}
	overflow := len(intPart) > nt.pre
	// Right-align the integer digits on the pre positions.
	lead := nt.pre - len(intPart)
	if overflow {
		lead = 0
	}
	var out strings.Builder
	// Without S/MI/PL/SG/PR the sign goes just before the first printed
	// digit: a minus, or a space for a positive number (+ for a leading S).
	signStr := "-"
	switch {
	case neg && nt.pr:
		signStr = "<"
	case !neg && nt.plus:
		signStr = "+"
	case !neg:
		signStr = " "
	}
	pos := 0 // index among pre digits
	fracPos := 0
	started := false // a digit or forced zero has been printed
	signDone := nt.sign
	emitSign := func() {
		if !signDone {
			if !(nt.fm && !neg && !nt.plus) {
				out.WriteString(signStr)
			}
			signDone = true
		}
	}
	if !nt.hasPoint && intPart == "" && nt.pre > 0 {
		// Zero without a fractional part prints its last digit.
		intPart = "0"
		lead = nt.pre - 1
	}
	for _, it := range nt.items {
		switch it {
		case "9", "0":
			if pos < nt.pre {
				pos++
				switch {
				case overflow:
					emitSign()
					out.WriteByte('#')
				case pos <= lead:
					if it == "0" || pos >= nt.zeroFrom {
						emitSign()
						out.WriteByte('0')
						started = true
					} else if !nt.fm {
						out.WriteByte(' ')
					}
				default:
					emitSign()
					out.WriteByte(intPart[pos-lead-1])
					started = true
				}
				continue
			}
			fracPos++
			if overflow {
				out.WriteByte('#')
				continue
			}
			out.WriteByte(frac[fracPos-1])
		case ".":
			emitSign()
			if overflow {
				out.WriteByte('.')
				continue
			}
			out.WriteByte('.')
		case ",":
			if started || overflow {
				out.WriteByte(',')
			} else if !nt.fm {
				out.WriteByte(' ')
			}
		case "S", "SG":
			if neg {
				out.WriteByte('-')
			} else {
				out.WriteByte('+')
			}
		case "MI":
			if neg {
				out.WriteByte('-')
			} else if !nt.fm {
				out.WriteByte(' ')
			}
		case "PL":
			if !neg {
				out.WriteByte('+')
			} else if !nt.fm {
				out.WriteByte(' ')
			}
		case "TH", "th":
			if !neg && !overflow {
				suf := ordinal(intPart)
				if it == "TH" {
					suf = strings.ToUpper(suf)
				}
				out.WriteString(suf)
			}
		default:
			out.WriteString(it[1:])
		}
	}
	s := out.String()
	if !signDone {
		emitSign()
		s = out.String()
	}
	if nt.fm && nt.hasPoint {
		// FM drops trailing zeros printed by 9 after the point; a number
		// left without any digit prints one zero before the point.
		s = trimFraction(s, nt)
		if !strings.ContainsAny(s, "0123456789#") {
			if i := strings.IndexByte(s, '.'); i >= 0 {
				s = s[:i] + "0" + s[i:]
			}
		}
	}
	if nt.pr {
		if neg {
			s += ">"
		} else if !nt.fm {
			s += " "
		}
	}
	return s, nil
}

// trimFraction removes trailing zeros after the decimal point that came
// from 9 positions (0 positions keep theirs).
func trimFraction(s string, nt *numTemplate) string {
	dot := strings.LastIndexByte(s, '.')
	if dot < 0 {
		return s
	}
	// Count how many trailing fractional positions are 9s.
	var fracItems []string
	seen := false
	for _, it := range nt.items {
		if it == "." {
			seen = true
			continue
		}
		if seen && (it == "9" || it == "0") {
			fracItems = append(fracItems, it)
		}
	}
	end := dot + 1 + len(fracItems)
	if end > len(s) {
		return s
	}
	frac := []byte(s[dot+1 : end])
	n := len(frac)
	for n > 0 && frac[n-1] == '0' && fracItems[n-1] == "9" {
		n--
	}
	return s[:dot+1] + string(frac[:n]) + s[end:]
}

// formatEEEE prints d in scientific notation with post fraction digits.
func formatEEEE(d types.Decimal, neg bool, nt *numTemplate) string {
	f := d.Float64()
	s := strconv.FormatFloat(f, 'e', nt.post, 64)
	// Go writes e+07; PostgreSQL writes e+07 as well (at least two digits).
	if neg {
		s = "-" + s
	} else if !nt.fm {
		s = " " + s
	}
	return s
}
