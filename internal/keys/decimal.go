package keys

import (
	"encoding/binary"
	"fmt"
	"strings"
)

// tagDecimal is the tag of an exact decimal component (NUMERIC, and
// interval spans). Layout after the tag:
//
//	0x01 negative | 0x02 zero | 0x03 positive
//	for non-zero values, with v = 0.d1d2...dn * 10^exp (d1 != 0, dn != 0):
//	  4 bytes exp, big-endian two's complement with the sign bit flipped
//	  n digit bytes d+1 (0x01..0x0A), then a 0x00 terminator
//	  negative values invert every byte after the sign byte, so larger
//	  magnitudes sort first and the terminator (0xFF) sorts after digits.
//
// Equal values encode equally whatever their display scale (1.5 = 1.50).
const tagDecimal = 0x28

// Decimal is a decoded decimal component: Neg, the significant digits
// (no leading or trailing zeros; empty for zero) and Exp, with value
// 0.Digits * 10^Exp.
type Decimal struct {
	Neg    bool
	Digits string
	Exp    int32
}

// String prints the value in plain decimal notation.
func (d Decimal) String() string {
	if d.Digits == "" {
		return "0"
	}
	var s string
	switch {
	case d.Exp <= 0:
		s = "0." + strings.Repeat("0", int(-d.Exp)) + d.Digits
	case int(d.Exp) >= len(d.Digits):
		s = d.Digits + strings.Repeat("0", int(d.Exp)-len(d.Digits))
	default:
		s = d.Digits[:d.Exp] + "." + d.Digits[d.Exp:]
	}
	if d.Neg {
		return "-" + s
	}
	return s
}

// AppendDecimal appends an encoded decimal given its sign, its decimal
// digits (leading and trailing zeros allowed; all zeros or empty is zero)
// and the position of the decimal point: the value is
// 0.digits * 10^exp.
func AppendDecimal(b []byte, neg bool, digits string, exp int32) []byte {
	lead := 0
	for lead < len(digits) && digits[lead] == '0' {
		lead++
	}
	digits = strings.TrimRight(digits[lead:], "0")
	exp -= int32(lead)
	b = append(b, tagDecimal)
	if digits == "" {
		return append(b, 0x02)
	}
	if !neg {
		b = append(b, 0x03)
		b = binary.BigEndian.AppendUint32(b, uint32(exp)^(1<<31))
		for i := 0; i < len(digits); i++ {
			b = append(b, digits[i]-'0'+1)
		}
		return append(b, 0x00)
	}
	b = append(b, 0x01)
	b = binary.BigEndian.AppendUint32(b, ^(uint32(exp) ^ (1 << 31)))
	for i := 0; i < len(digits); i++ {
		b = append(b, ^(digits[i] - '0' + 1))
	}
	return append(b, 0xFF)
}

func decodeDecimal(b []byte) (Decimal, []byte, error) {
	if len(b) == 0 {
		return Decimal{}, nil, fmt.Errorf("%w: short decimal", ErrCorrupt)
	}
	sign, b := b[0], b[1:]
	switch sign {
	case 0x02:
		return Decimal{}, b, nil
	case 0x01, 0x03:
	default:
		return Decimal{}, nil, fmt.Errorf("%w: bad decimal sign 0x%02x", ErrCorrupt, sign)
	}
	neg := sign == 0x01
	if len(b) < 4 {
		return Decimal{}, nil, fmt.Errorf("%w: short decimal exponent", ErrCorrupt)
	}
	e := binary.BigEndian.Uint32(b)
	if neg {
		e = ^e
	}
	exp := int32(e ^ (1 << 31))
	b = b[4:]
	var digits []byte
	for i := 0; ; i++ {
		if i >= len(b) {
			return Decimal{}, nil, fmt.Errorf("%w: unterminated decimal", ErrCorrupt)
		}
		c := b[i]
		if neg {
			c = ^c
		}
		if c == 0 {
			if len(digits) == 0 {
				return Decimal{}, nil, fmt.Errorf("%w: decimal without digits", ErrCorrupt)
			}
			return Decimal{Neg: neg, Digits: string(digits), Exp: exp}, b[i+1:], nil
		}
		if c > 10 {
			return Decimal{}, nil, fmt.Errorf("%w: bad decimal digit", ErrCorrupt)
		}
		digits = append(digits, '0'+c-1)
	}
}
