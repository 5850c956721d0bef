package builtins

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"unicode/utf8"

	"github.com/phantom-db/phantom/compute/sql/sqlerr"
	"github.com/phantom-db/phantom/compute/sql/types"
)

// Like reports whether s matches a LIKE pattern with escape character esc
// ("" for none); fold compares case-insensitively (ILIKE).
func Like(s, pattern, esc string, fold bool) (bool, error) {
	if fold {
		s, pattern = asciiLower(s), asciiLower(pattern)
	}
	var escR rune = -1
	if esc != "" {
		if utf8.RuneCountInString(esc) != 1 {
			return false, sqlerr.New(sqlerr.CodeInvalidEscapeSequence, "invalid escape string").
				WithHint("Escape string must be empty or one character.")
		}
		escR, _ = utf8.DecodeRuneInString(esc)
	}
	// Compile the pattern into tokens: literal runes, '_' (any one) and
	// '%' (any run).
	type tok struct {
		r    rune
		kind byte // 'l' literal, '_' one, '%' many
	}
	var toks []tok
	pr := []rune(pattern)
	for i := 0; i < len(pr); i++ {
		c := pr[i]
		switch {
		case c == escR:
			if i+1 >= len(pr) {
				return false, sqlerr.New(sqlerr.CodeInvalidEscapeSequence, "LIKE pattern must not end with escape character")
			}
			i++
			toks = append(toks, tok{pr[i], 'l'})
		case c == '%':
			if len(toks) == 0 || toks[len(toks)-1].kind != '%' {
				toks = append(toks, tok{0, '%'})
			}
		case c == '_':
			toks = append(toks, tok{0, '_'})
		default:
			toks = append(toks, tok{c, 'l'})
		}
	}
	sr := []rune(s)
	// Iterative matcher with backtracking to the last '%'.
	si, ti := 0, 0
	star, mark := -1, 0
	for si < len(sr) {
		switch {
		case ti < len(toks) && (toks[ti].kind == '_' || (toks[ti].kind == 'l' && toks[ti].r == sr[si])):
			si++
			ti++
		case ti < len(toks) && toks[ti].kind == '%':
			star, mark = ti, si
			ti++
		case star >= 0:
			ti = star + 1
			mark++
			si = mark
		default:
			return false, nil
		}
	}
	for ti < len(toks) && toks[ti].kind == '%' {
		ti++
	}
	return ti == len(toks), nil
}

func init() {
	like := func(fold, neg bool) func([]any) (any, error) {
		return func(a []any) (any, error) {
			esc := `\`
			if len(a) > 2 {
				esc = str(a[2])
			}
			ok, err := Like(str(a[0]), str(a[1]), esc, fold)
			return ok != neg, err
		}
	}
	for name, f := range map[string]func([]any) (any, error){
		"like": like(false, false), "notlike": like(false, true), "ilike": like(true, false), "notilike": like(true, true),
	} {
		register(name, b, f, text, text)
		register(name, b, f, text, text, text)
	}

	registerOv("gen_random_uuid", Overload{Ret: types.UUID, RetFromArg: -1, Strict: true, Volatile: true, Fn: func([]any) (any, error) {
		var u types.UUIDValue
		if _, err := rand.Read(u[:]); err != nil {
			return nil, err
		}
		u[6] = u[6]&0x0f | 0x40
		u[8] = u[8]&0x3f | 0x80
		return u, nil
	}})

	// jsonb operators, bound by name from the operator.
	jb := types.JSONB
	register("->", jb, func(a []any) (any, error) { return jsonGet(a[0], a[1], false) }, jb, text)
	register("->", jb, func(a []any) (any, error) { return jsonGet(a[0], a[1], false) }, jb, i4)
	register("->>", text, func(a []any) (any, error) { return jsonGet(a[0], a[1], true) }, jb, text)
	register("->>", text, func(a []any) (any, error) { return jsonGet(a[0], a[1], true) }, jb, i4)
	register("@>", b, func(a []any) (any, error) { return jsonContains(a[0], a[1]) }, jb, jb)
	register("<@", b, func(a []any) (any, error) { return jsonContains(a[1], a[0]) }, jb, jb)
	register("?", b, func(a []any) (any, error) {
		v, err := types.DecodeJSONB(a[0].(types.JSONBValue))
		if err != nil {
			return nil, err
		}
		switch x := v.(type) {
		case map[string]any:
			_, ok := x[str(a[1])]
			return ok, nil
		case []any:
			for _, e := range x {
				if s, ok := e.(string); ok && s == str(a[1]) {
					return true, nil
				}
			}
		case string:
			return x == str(a[1]), nil
		}
		return false, nil
	}, jb, text)
	register("jsonb_typeof", text, func(a []any) (any, error) {
		v, err := types.DecodeJSONB(a[0].(types.JSONBValue))
		if err != nil {
			return nil, err
		}
		switch v.(type) {
		case nil:
			return "null", nil
		case bool:
			return "boolean", nil
		case json.Number:
			return "number", nil
		case string:
			return "string", nil
		case []any:
			return "array", nil
		}
		return "object", nil
	}, jb)
	register("jsonb_array_length", i4, func(a []any) (any, error) {
		v, err := types.DecodeJSONB(a[0].(types.JSONBValue))
		if err != nil {
			return nil, err
		}
		arr, ok := v.([]any)
		if !ok {
			return nil, sqlerr.New(sqlerr.CodeInvalidParameterValue, "cannot get array length of a non-array")
		}
		return int32(len(arr)), nil
	}, jb)
}

func jsonGet(doc, key any, asText bool) (any, error) {
	v, err := types.DecodeJSONB(doc.(types.JSONBValue))
	if err != nil {
		return nil, err
	}
	var out any
	switch k := key.(type) {
	case string:
		m, ok := v.(map[string]any)
		if !ok {
			return nil, nil
		}
		if out, ok = m[k]; !ok {
			return nil, nil
		}
	case int32:
		arr, ok := v.([]any)
		if !ok {
			return nil, nil
		}
		i := int(k)
		if i < 0 {
			i += len(arr)
		}
		if i < 0 || i >= len(arr) {
			return nil, nil
		}
		out = arr[i]
	}
	if asText {
		switch x := out.(type) {
		case nil:
			return nil, nil
		case string:
			return x, nil
		}
	}
	var buf bytes.Buffer
	if err := types.WriteJSONB(&buf, out); err != nil {
		return nil, err
	}
	if asText {
		return buf.String(), nil
	}
	return types.JSONBValue(buf.String()), nil
}

func jsonContains(a, b any) (any, error) {
	x, err := types.DecodeJSONB(a.(types.JSONBValue))
	if err != nil {
		return nil, err
	}
	y, err := types.DecodeJSONB(b.(types.JSONBValue))
	if err != nil {
		return nil, err
	}
	return contains(x, y, true), nil
}

// contains is jsonb's @>: objects contain objects whose pairs they
// contain, arrays contain arrays whose elements they contain (and, at the
// top level, a scalar they hold), scalars equal scalars.
func contains(x, y any, top bool) bool {
	switch xv := x.(type) {
	case map[string]any:
		yv, ok := y.(map[string]any)
		if !ok {
			return false
		}
		for k, v := range yv {
			e, ok := xv[k]
			if !ok || !contains(e, v, false) {
				return false
			}
		}
		return true
	case []any:
		yv, ok := y.([]any)
		if !ok {
			if top {
				if _, isObj := y.(map[string]any); isObj {
					return false
				}
				for _, e := range xv {
					if scalarEq(e, y) {
						return true
					}
				}
			}
			return false
		}
		for _, v := range yv {
			found := false
			for _, e := range xv {
				if contains(e, v, false) {
					found = true
					break
				}
			}
			if !found {
				return false
			}
		}
		return true
	}
	return scalarEq(x, y)
}

func scalarEq(x, y any) bool {
	switch xv := x.(type) {
	case json.Number:
		yv, ok := y.(json.Number)
		if !ok {
			return false
		}
		a, err1 := types.ParseDecimal(string(xv))
		b, err2 := types.ParseDecimal(string(yv))
		return err1 == nil && err2 == nil && a.Cmp(b) == 0
	case string, bool, nil:
		return x == y
	}
	return false
}
