package sqlshell

import (
	"reflect"
	"testing"
)

func TestSplit(t *testing.T) {
	cases := []struct {
		name  string
		in    string
		stmts []string
		rest  string
	}{
		{"empty", "", nil, ""},
		{"one", "SELECT 1;", []string{"SELECT 1"}, ""},
		{"two on a line", "SELECT 1; SELECT 2;\n", []string{"SELECT 1", "SELECT 2"}, "\n"},
		{"unterminated", "SELECT 1; SELECT", []string{"SELECT 1"}, " SELECT"},
		{"multi-line", "SELECT\n  1\n;", []string{"SELECT\n  1"}, ""},
		{"semicolon in string", "SELECT 'a;b';", []string{"SELECT 'a;b'"}, ""},
		{"doubled quote", "SELECT 'it''s; ok';", []string{"SELECT 'it''s; ok'"}, ""},
		{"open string", "SELECT 'a;\nb", nil, "SELECT 'a;\nb"},
		{"E string backslash", `SELECT E'a\';b';`, []string{`SELECT E'a\';b'`}, ""},
		{"plain string backslash", `SELECT 'a\';`, []string{`SELECT 'a\'`}, ""},
		{"quoted identifier", `SELECT 1 AS "x;y";`, []string{`SELECT 1 AS "x;y"`}, ""},
		{"line comment", "SELECT 1 -- no; split\n;", []string{"SELECT 1 -- no; split"}, ""},
		{"comment only", "-- just a comment;\n", nil, "-- just a comment;\n"},
		{"empty statements", ";;  ;", nil, ""},
		{"comment then empty", "/* c */ ;", nil, ""},
		{"block comment", "SELECT /* ; */ 1;", []string{"SELECT /* ; */ 1"}, ""},
		{"nested block comment", "SELECT /* a /* ; */ ; */ 1;", []string{"SELECT /* a /* ; */ ; */ 1"}, ""},
		{"open block comment", "SELECT /* ;", nil, "SELECT /* ;"},
		{"dollar quote", "SELECT $$a;b$$;", []string{"SELECT $$a;b$$"}, ""},
		{"tagged dollar quote", "SELECT $fn$ $$; $fn$;", []string{"SELECT $fn$ $$; $fn$"}, ""},
		{"open dollar quote", "SELECT $$a;", nil, "SELECT $$a;"},
		{"parameter is not a tag", "SELECT $1; SELECT $2;", []string{"SELECT $1", "SELECT $2"}, ""},
		{"dollar inside identifier", "SELECT a$b; SELECT 1;", []string{"SELECT a$b", "SELECT 1"}, ""},
		{"minus is not a comment", "SELECT 2-1;", []string{"SELECT 2-1"}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			stmts, rest := Split(c.in)
			if !reflect.DeepEqual(stmts, c.stmts) || rest != c.rest {
				t.Fatalf("Split(%q) = %q, %q; want %q, %q", c.in, stmts, rest, c.stmts, c.rest)
			}
		})
	}
}

func TestHasContent(t *testing.T) {
	for in, want := range map[string]bool{
		"":                    false,
		"  \n":                false,
		"-- c\n":              false,
		"/* c */":             false,
		"SELECT 1":            true,
		"-- c\nSELECT 1 -- d": true,
		"'open":               true,
	} {
		if got := HasContent(in); got != want {
			t.Errorf("HasContent(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestLocate(t *testing.T) {
	cases := []struct {
		q    string
		pos  int
		line int
		text string
		col  int
		ok   bool
	}{
		{"SELEC 1", 1, 1, "SELEC 1", 0, true},
		{"SELECT x FROM t", 8, 1, "SELECT x FROM t", 7, true},
		{"SELECT 1", 9, 1, "SELECT 1", 8, true},
		{"SELECT\n  x\nFROM t", 10, 2, "  x", 2, true},
		{"SELECT 'é' + x", 14, 1, "SELECT 'é' + x", 13, true},
		{"SELECT 1", 20, 0, "", 0, false},
	}
	for _, c := range cases {
		line, text, col, ok := locate(c.q, c.pos)
		if line != c.line || text != c.text || col != c.col || ok != c.ok {
			t.Errorf("locate(%q, %d) = %d %q %d %v; want %d %q %d %v", c.q, c.pos, line, text, col, ok, c.line, c.text, c.col, c.ok)
		}
	}
}
