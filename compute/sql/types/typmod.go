package types

import (
	"strings"
	"unicode/utf8"

	"github.com/phantom-db/phantom/compute/sql/sqlerr"
)

// Mod is a type modifier as PostgreSQL's atttypmod encodes it (0 here for
// none): varchar(n) is n+4, numeric(p,s) is (p<<16 | s)+4. char(n) (bpchar)
// is varchar's encoding with CharFlag set, since both are text here.
type Mod int32

// CharFlag marks a char(n) modifier.
const CharFlag Mod = 1 << 30

// VarcharMod returns the modifier of varchar(n).
func VarcharMod(n int32) Mod { return Mod(n + 4) }

// CharMod returns the modifier of char(n).
func CharMod(n int32) Mod { return Mod(n+4) | CharFlag }

// NumericMod returns the modifier of numeric(p, s).
func NumericMod(p, s int32) Mod { return Mod((p<<16 | s) + 4) }

// Length returns n of varchar(n)/char(n), ok false without a modifier.
func (m Mod) Length() (int32, bool) {
	if m == 0 {
		return 0, false
	}
	return int32(m&^CharFlag) - 4, true
}

// IsChar reports whether m is a char(n) modifier.
func (m Mod) IsChar() bool { return m&CharFlag != 0 }

// PrecScale returns p and s of numeric(p, s).
func (m Mod) PrecScale() (int32, int32, bool) {
	if m == 0 {
		return 0, 0, false
	}
	v := int32(m) - 4
	return v >> 16, v & 0xFFFF, true
}

// SQLName names t with its modifier: character varying(3), numeric(10,2).
func (m Mod) SQLName(t T) string {
	if m == 0 {
		return t.SQLName()
	}
	switch t {
	case Text:
		n, _ := m.Length()
		if m.IsChar() {
			return "character(" + itoa(n) + ")"
		}
		return "character varying(" + itoa(n) + ")"
	case Numeric:
		p, s, _ := m.PrecScale()
		return "numeric(" + itoa(p) + "," + itoa(s) + ")"
	}
	return t.SQLName()
}

func itoa(n int32) string {
	return FormatText(int64(n))
}

// ApplyMod coerces a non-NULL value of type t to modifier m: numeric
// rounds to the scale and checks the precision (22003); varchar(n) and
// char(n) check the length in characters (22001; an explicit cast
// truncates instead, and trailing spaces beyond n are dropped silently),
// and char(n) drops trailing spaces (see below).
func ApplyMod(v any, t T, m Mod, explicit bool) (any, error) {
	if m == 0 || v == nil {
		return v, nil
	}
	switch t {
	case Numeric:
		p, s, _ := m.PrecScale()
		return ApplyNumericMod(v.(Decimal), p, s)
	case Text:
		n, _ := m.Length()
		str := v.(string)
		l := int32(utf8.RuneCountInString(str))
		if l > n {
			r := []rune(str)
			if !explicit && strings.TrimRight(string(r[n:]), " ") != "" {
				return nil, sqlerr.New(sqlerr.CodeStringDataRightTruncation, "value too long for type %s", m.SQLName(t))
			}
			str = string(r[:n])
			l = n
		}
		if m.IsChar() {
			// char(n) keeps no trailing spaces: PostgreSQL ignores them in
			// comparisons and drops them when converting to text, so storing
			// the trimmed value gives its semantics except that output is
			// not padded to n.
			str = strings.TrimRight(str, " ")
		}
		return str, nil
	}
	return v, nil
}
