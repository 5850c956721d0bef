package tpch

import (
	"embed"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// The 22 TPC-H queries as the specification writes them (PostgreSQL
// spelling of intervals), with the substitution parameters of its query
// validation (TPC-H 2.4.n.3); Q11's FRACTION keeps the validation's 0.0001
// at every scale factor.
//
//go:embed queries/q*.sql
var queryFiles embed.FS

// Query is one TPC-H query.
type Query struct {
	// Num is the query number, 1 to 22.
	Num int
	// Statements run in order; the answer is the last one that returns
	// rows (Q15 creates a view, queries it and drops it).
	Statements []string
	// Ordered is true when the answer's row order is defined (ORDER BY);
	// otherwise rows are compared as a multiset.
	Ordered bool
}

// Name is "Q1".."Q22".
func (q Query) Name() string { return "Q" + strconv.Itoa(q.Num) }

// NumQueries is the number of TPC-H queries.
const NumQueries = 22

var (
	orderByRE    = regexp.MustCompile(`(?i)\border\s+by\b`)
	statementEnd = regexp.MustCompile(`;\s*(\n|$)`)
)

// Queries returns the queries numbered nums (all 22 when nums is empty), in
// the order given.
func Queries(nums []int) ([]Query, error) {
	if len(nums) == 0 {
		for i := 1; i <= NumQueries; i++ {
			nums = append(nums, i)
		}
	}
	out := make([]Query, 0, len(nums))
	for _, n := range nums {
		if n < 1 || n > NumQueries {
			return nil, fmt.Errorf("tpch: no query %d (they are 1 to %d)", n, NumQueries)
		}
		text, err := queryFiles.ReadFile(fmt.Sprintf("queries/q%02d.sql", n))
		if err != nil {
			return nil, fmt.Errorf("tpch: %w", err)
		}
		q := Query{Num: n}
		for _, s := range statementEnd.Split(string(text), -1) {
			if s = strings.TrimSpace(s); s != "" {
				q.Statements = append(q.Statements, s)
			}
		}
		for _, s := range q.Statements {
			if strings.HasPrefix(strings.ToLower(s), "select") {
				q.Ordered = orderByRE.MatchString(s)
			}
		}
		out = append(out, q)
	}
	return out, nil
}

// ParseQueryList parses "1,3,5-7" into query numbers.
func ParseQueryList(s string) ([]int, error) {
	var nums []int
	for f := range strings.SplitSeq(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		lo, hi, isRange := strings.Cut(f, "-")
		a, err := parseQueryNum(lo)
		if err != nil {
			return nil, err
		}
		b := a
		if isRange {
			if b, err = parseQueryNum(hi); err != nil {
				return nil, err
			}
		}
		if b < a {
			return nil, fmt.Errorf("tpch: query range %q runs backwards", f)
		}
		for n := a; n <= b; n++ {
			nums = append(nums, n)
		}
	}
	return nums, nil
}

func parseQueryNum(s string) (int, error) {
	s = strings.TrimPrefix(strings.TrimPrefix(strings.TrimSpace(s), "q"), "Q")
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > NumQueries {
		return 0, fmt.Errorf("tpch: bad query %q: want a number from 1 to %d", s, NumQueries)
	}
	return n, nil
}
