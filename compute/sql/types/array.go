package types

import (
	"strings"

	"github.com/phantom-db/phantom/compute/sql/sqlerr"
	"github.com/phantom-db/phantom/internal/keys"
)

// Arrays. An array type is its element type with the arrayBit set, so
// every scalar type has one (int4[] is ArrayOf(Int4), PostgreSQL's _int4).
// Only one-dimensional arrays with lower bound 1 exist (the forms psql's
// catalog queries and the common ARRAY[...] / '{...}' literals use);
// multi-dimensional input answers 0A000.
//
// Representation: the carrier is ArrayValue (element carriers, nil for a
// NULL element). In Arrow and in stored rows an array is its PostgreSQL
// text form ({1,2,NULL}, {"a b",c}) in a String column — the choice numeric
// and jsonb made too — so array columns need no new row-codec kind and
// batches keep one Arrow type per SQL type; ValueAt parses the text,
// Append prints it.

const arrayBit T = 0x40

// ArrayValue is the carrier of an array: its element type and elements
// (element carriers; nil is a NULL element).
type ArrayValue struct {
	Elem  T
	Elems []any
}

// ArrayOf returns the array type of element type elem.
func ArrayOf(elem T) T { return elem | arrayBit }

// IsArray reports whether t is an array type.
func (t T) IsArray() bool { return t&arrayBit != 0 }

// Elem returns the element type of an array type (Unknown otherwise).
func (t T) Elem() T {
	if !t.IsArray() {
		return Unknown
	}
	return t &^ arrayBit
}

// arrayFromName maps PostgreSQL's array type names (_int4) to types.
func arrayFromName(name string) (T, bool) {
	if !strings.HasPrefix(name, "_") {
		return Unknown, false
	}
	e, ok := FromName(name[1:])
	if !ok || e == Unknown || e.IsArray() {
		return Unknown, false
	}
	return ArrayOf(e), true
}

// String prints the array in PostgreSQL's text form.
func (a ArrayValue) String() string {
	var b strings.Builder
	b.WriteByte('{')
	for i, e := range a.Elems {
		if i > 0 {
			b.WriteByte(',')
		}
		if e == nil {
			b.WriteString("NULL")
			continue
		}
		if v, ok := e.(bool); ok { // boolout: t or f
			b.WriteString(map[bool]string{true: "t", false: "f"}[v])
			continue
		}
		writeArrayElem(&b, FormatText(e))
	}
	b.WriteByte('}')
	return b.String()
}

// writeArrayElem writes one element, double-quoted when PostgreSQL's
// array_out quotes it: empty, NULL (any case), or containing braces,
// quotes, commas, backslashes or white space.
func writeArrayElem(b *strings.Builder, s string) {
	quote := s == "" || strings.EqualFold(s, "NULL")
	for i := 0; i < len(s) && !quote; i++ {
		switch s[i] {
		case '{', '}', ',', '"', '\\', ' ', '\t', '\n', '\r', '\v', '\f':
			quote = true
		}
	}
	if !quote {
		b.WriteString(s)
		return
	}
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' || s[i] == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	b.WriteByte('"')
}

func malformedArray(s, detail string) error {
	e := sqlerr.New(sqlerr.CodeInvalidTextRep, "malformed array literal: %q", s)
	e.Detail = detail
	return e
}

// ParseArray parses PostgreSQL's array text form into an array of elem:
// {a,b}, quoted elements with backslash escapes, unquoted NULL, white
// space around elements.
func ParseArray(elem T, s string) (ArrayValue, error) {
	out := ArrayValue{Elem: elem, Elems: []any{}}
	t := strings.TrimSpace(s)
	if strings.HasPrefix(t, "[") {
		return out, sqlerr.NotSupported("array literals with explicit bounds")
	}
	if !strings.HasPrefix(t, "{") {
		return out, malformedArray(s, `Array value must start with "{" or dimension information.`)
	}
	i := 1
	skip := func() {
		for i < len(t) && (t[i] == ' ' || t[i] == '\t' || t[i] == '\n' || t[i] == '\r') {
			i++
		}
	}
	skip()
	if i < len(t) && t[i] == '}' {
		if strings.TrimSpace(t[i+1:]) != "" {
			return out, malformedArray(s, "Junk after closing right brace.")
		}
		return out, nil
	}
	for {
		skip()
		if i >= len(t) {
			return out, malformedArray(s, "Unexpected end of input.")
		}
		if t[i] == '{' {
			return out, sqlerr.NotSupported("multidimensional arrays")
		}
		var val strings.Builder
		quoted := false
		if t[i] == '"' {
			quoted = true
			i++
			for {
				if i >= len(t) {
					return out, malformedArray(s, "Unexpected end of input.")
				}
				c := t[i]
				if c == '\\' && i+1 < len(t) {
					val.WriteByte(t[i+1])
					i += 2
					continue
				}
				if c == '"' {
					i++
					break
				}
				val.WriteByte(c)
				i++
			}
			skip()
		} else {
			for i < len(t) && t[i] != ',' && t[i] != '}' {
				c := t[i]
				if c == '"' || c == '{' {
					return out, malformedArray(s, "Unexpected array element.")
				}
				if c == '\\' && i+1 < len(t) {
					val.WriteByte(t[i+1])
					i += 2
					continue
				}
				val.WriteByte(c)
				i++
			}
		}
		raw := val.String()
		if !quoted {
			raw = strings.TrimRight(raw, " \t\n\r")
			if raw == "" {
				return out, malformedArray(s, "Unexpected \",\" character.")
			}
		}
		if !quoted && strings.EqualFold(raw, "NULL") {
			out.Elems = append(out.Elems, nil)
		} else {
			v, err := ParseText(elem, raw)
			if err != nil {
				return out, err
			}
			out.Elems = append(out.Elems, v)
		}
		if i >= len(t) {
			return out, malformedArray(s, "Unexpected end of input.")
		}
		if t[i] == ',' {
			i++
			continue
		}
		// t[i] == '}'
		if strings.TrimSpace(t[i+1:]) != "" {
			return out, malformedArray(s, "Junk after closing right brace.")
		}
		return out, nil
	}
}

// compareArrays orders arrays as PostgreSQL's btree does: element by
// element (a NULL element after every value), then the shorter first.
func compareArrays(a, b ArrayValue) int {
	for i := 0; i < len(a.Elems) && i < len(b.Elems); i++ {
		x, y := a.Elems[i], b.Elems[i]
		switch {
		case x == nil && y == nil:
			continue
		case x == nil:
			return 1
		case y == nil:
			return -1
		}
		if c := Compare(x, y); c != 0 {
			return c
		}
	}
	switch {
	case len(a.Elems) < len(b.Elems):
		return -1
	case len(a.Elems) > len(b.Elems):
		return 1
	}
	return 0
}

// appendArrayKey encodes an array order-preservingly: per element a
// marker (1 value, 2 NULL) and the element's key, then 0. Element keys
// are self-delimiting, so the encoding orders as compareArrays.
func appendArrayKey(b []byte, a ArrayValue) ([]byte, error) {
	for _, e := range a.Elems {
		if e == nil {
			b = append(b, 2)
			continue
		}
		b = append(b, 1)
		var err error
		if b, err = AppendKey(b, e); err != nil {
			return nil, err
		}
	}
	return keys.AppendInt(append(b, 0), int64(len(a.Elems))), nil
}

// castArray casts to or from an array type: element by element between
// arrays; other types have no cast to or from arrays (text is handled by
// the callers: it parses or prints).
func castArray(v any, src, t T) (any, error) {
	a, ok := v.(ArrayValue)
	if !ok || !t.IsArray() {
		return nil, cannotCast(src, t)
	}
	out := ArrayValue{Elem: t.Elem(), Elems: make([]any, len(a.Elems))}
	for i, e := range a.Elems {
		if e == nil {
			continue
		}
		c, err := Cast(e, t.Elem())
		if err != nil {
			return nil, err
		}
		out.Elems[i] = c
	}
	return out, nil
}
