package builtins

import (
	"crypto/md5"
	"encoding/hex"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/phantom-db/phantom/compute/sql/sqlerr"
	"github.com/phantom-db/phantom/compute/sql/types"
)

const (
	text = types.Text
	i4   = types.Int4
	i8   = types.Int8
	b    = types.Bool
)

func str(v any) string { return v.(string) }

func i64(v any) int64 {
	switch x := v.(type) {
	case int16:
		return int64(x)
	case int32:
		return int64(x)
	case int64:
		return x
	}
	panic("builtins: not an integer")
}

// maxStringBytes bounds the strings lpad/rpad/repeat build (PostgreSQL's
// 1 GB field limit is far beyond what one compute node should allocate).
const maxStringBytes = 64 << 20

func tooLong() error {
	return sqlerr.New(sqlerr.CodeProgramLimitExceeded, "requested length too large")
}

func init() {
	length := func(a []any) (any, error) { return int32(utf8.RuneCountInString(str(a[0]))), nil }
	register("length", i4, length, text)
	register("char_length", i4, length, text)
	register("character_length", i4, length, text)
	register("octet_length", i4, func(a []any) (any, error) { return int32(len(str(a[0]))), nil }, text)
	register("length", i4, func(a []any) (any, error) { return int32(len(a[0].([]byte))), nil }, types.Bytea)
	register("octet_length", i4, func(a []any) (any, error) { return int32(len(a[0].([]byte))), nil }, types.Bytea)
	register("lower", text, func(a []any) (any, error) { return asciiLower(str(a[0])), nil }, text)
	register("upper", text, func(a []any) (any, error) { return asciiUpper(str(a[0])), nil }, text)
	register("initcap", text, func(a []any) (any, error) { return initcap(str(a[0])), nil }, text)
	register("reverse", text, func(a []any) (any, error) {
		r := []rune(str(a[0]))
		for i, j := 0, len(r)-1; i < j; i, j = i+1, j-1 {
			r[i], r[j] = r[j], r[i]
		}
		return string(r), nil
	}, text)
	register("md5", text, func(a []any) (any, error) {
		s := md5.Sum([]byte(str(a[0])))
		return hex.EncodeToString(s[:]), nil
	}, text)
	register("md5", text, func(a []any) (any, error) {
		s := md5.Sum(a[0].([]byte))
		return hex.EncodeToString(s[:]), nil
	}, types.Bytea)
	substr2 := func(a []any) (any, error) { return substring(str(a[0]), i64(a[1]), 0, false) }
	substr3 := func(a []any) (any, error) { return substring(str(a[0]), i64(a[1]), i64(a[2]), true) }
	for _, n := range []string{"substring", "substr"} {
		register(n, text, substr2, text, i4)
		register(n, text, substr3, text, i4, i4)
	}
	strpos := func(a []any) (any, error) {
		s, sub := str(a[0]), str(a[1])
		i := strings.Index(s, sub)
		if i < 0 {
			return int32(0), nil
		}
		return int32(utf8.RuneCountInString(s[:i]) + 1), nil
	}
	register("strpos", i4, strpos, text, text)
	register("position", i4, strpos, text, text) // the parser passes (string, substring)
	trims := map[string]func(string, string) string{
		"btrim": strings.Trim, "ltrim": strings.TrimLeft, "rtrim": strings.TrimRight,
	}
	for name, f := range trims {
		register(name, text, func(a []any) (any, error) { return f(str(a[0]), " "), nil }, text)
		register(name, text, func(a []any) (any, error) { return f(str(a[0]), str(a[1])), nil }, text, text)
	}
	register("replace", text, func(a []any) (any, error) {
		if str(a[1]) == "" {
			return str(a[0]), nil
		}
		return strings.ReplaceAll(str(a[0]), str(a[1]), str(a[2])), nil
	}, text, text, text)
	registerOv("concat", Overload{Args: []types.T{AnyText}, Variadic: true, Ret: text, RetFromArg: -1, Fn: func(a []any) (any, error) {
		var sb strings.Builder
		for _, v := range a {
			if v != nil {
				sb.WriteString(outText(v))
			}
		}
		return sb.String(), nil
	}})
	registerOv("concat_ws", Overload{Args: []types.T{text, AnyText}, Variadic: true, Ret: text, RetFromArg: -1, Fn: func(a []any) (any, error) {
		if a[0] == nil {
			return nil, nil
		}
		var parts []string
		for _, v := range a[1:] {
			if v != nil {
				parts = append(parts, outText(v))
			}
		}
		return strings.Join(parts, str(a[0])), nil
	}})
	register("split_part", text, func(a []any) (any, error) {
		s, d, n := str(a[0]), str(a[1]), i64(a[2])
		if n == 0 {
			return nil, sqlerr.New(sqlerr.CodeInvalidParameterValue, "field position must not be zero")
		}
		var parts []string
		if d == "" {
			parts = []string{s}
			if s == "" {
				parts = nil
			}
		} else {
			parts = strings.Split(s, d)
		}
		if n < 0 {
			n = int64(len(parts)) + n + 1
		}
		if n < 1 || n > int64(len(parts)) {
			return "", nil
		}
		return parts[n-1], nil
	}, text, text, i4)
	register("left", text, func(a []any) (any, error) {
		r, n := []rune(str(a[0])), i64(a[1])
		if n < 0 {
			n = max(int64(len(r))+n, 0)
		}
		return string(r[:min(n, int64(len(r)))]), nil
	}, text, i4)
	register("right", text, func(a []any) (any, error) {
		r, n := []rune(str(a[0])), i64(a[1])
		if n < 0 {
			n = max(int64(len(r))+n, 0)
		}
		n = min(n, int64(len(r)))
		return string(r[int64(len(r))-n:]), nil
	}, text, i4)
	pad := func(left bool) func(a []any) (any, error) {
		return func(a []any) (any, error) {
			r, n := []rune(str(a[0])), i64(a[1])
			fill := " "
			if len(a) > 2 {
				fill = str(a[2])
			}
			if n <= 0 {
				return "", nil
			}
			if n*4 > maxStringBytes {
				return nil, tooLong()
			}
			if int64(len(r)) >= n || fill == "" {
				return string(r[:min(n, int64(len(r)))]), nil
			}
			fr := []rune(fill)
			padding := make([]rune, 0, n-int64(len(r)))
			for i := 0; int64(len(padding)) < n-int64(len(r)); i++ {
				padding = append(padding, fr[i%len(fr)])
			}
			if left {
				return string(padding) + string(r), nil
			}
			return string(r) + string(padding), nil
		}
	}
	register("lpad", text, pad(true), text, i4)
	register("lpad", text, pad(true), text, i4, text)
	register("rpad", text, pad(false), text, i4)
	register("rpad", text, pad(false), text, i4, text)
	register("repeat", text, func(a []any) (any, error) {
		s, n := str(a[0]), i64(a[1])
		if n <= 0 {
			return "", nil
		}
		if int64(len(s))*n > maxStringBytes {
			return nil, tooLong()
		}
		return strings.Repeat(s, int(n)), nil
	}, text, i4)
	register("starts_with", b, func(a []any) (any, error) { return strings.HasPrefix(str(a[0]), str(a[1])), nil }, text, text)
	register("ascii", i4, func(a []any) (any, error) {
		r, _ := utf8.DecodeRuneInString(str(a[0]))
		if str(a[0]) == "" {
			r = 0
		}
		return int32(r), nil
	}, text)
	register("chr", text, func(a []any) (any, error) {
		n := i64(a[0])
		if n == 0 {
			return nil, sqlerr.New(sqlerr.CodeProgramLimitExceeded, "null character not permitted")
		}
		if n < 0 || n > unicode.MaxRune || (n >= 0xD800 && n <= 0xDFFF) {
			return nil, sqlerr.New(sqlerr.CodeProgramLimitExceeded, "requested character too large for encoding: %d", n)
		}
		return string(rune(n)), nil
	}, i4)
}

// substring implements substring(s FROM start [FOR count]) over
// characters: positions before 1 count against the length.
func substring(s string, start, count int64, hasCount bool) (any, error) {
	r := []rune(s)
	if hasCount && count < 0 {
		return nil, sqlerr.New("22011", "negative substring length not allowed")
	}
	from := start - 1
	to := int64(len(r))
	if hasCount {
		to = start - 1 + count
	}
	from = max(from, 0)
	to = min(to, int64(len(r)))
	if from >= to {
		return "", nil
	}
	return string(r[from:to]), nil
}

// Case mapping follows the C locale (the engine's collation is C, as the
// recorded PostgreSQL's is): only ASCII letters change case.

func asciiLower(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'A' && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return r
	}, s)
}

func asciiUpper(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' {
			return r - ('a' - 'A')
		}
		return r
	}, s)
}

func isASCIIAlnum(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9'
}

func initcap(s string) string {
	var sb strings.Builder
	inWord := false
	for _, c := range s {
		if isASCIIAlnum(c) {
			if inWord {
				sb.WriteString(asciiLower(string(c)))
			} else {
				sb.WriteString(asciiUpper(string(c)))
			}
			inWord = true
		} else {
			sb.WriteRune(c)
			inWord = false
		}
	}
	return sb.String()
}

// outText prints a value with its type's output function (booleans print
// as t and f there, unlike a cast to text).
func outText(v any) string {
	if b, ok := v.(bool); ok {
		if b {
			return "t"
		}
		return "f"
	}
	return types.FormatText(v)
}
