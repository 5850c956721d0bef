package exec

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/phantom-db/phantom/compute/sql/plan"
	"github.com/phantom-db/phantom/compute/sql/sqlerr"
	"github.com/phantom-db/phantom/compute/sql/types"
)

// joinRow is (k, v), nil for NULL.
type joinRow [2]any

var joinCols = []plan.Column{{Name: "k", T: types.Int8}, {Name: "v", T: types.Int8}}

func randomJoinRows(r *rand.Rand, n int) []joinRow {
	rows := make([]joinRow, n)
	for i := range rows {
		if r.IntN(6) > 0 {
			rows[i][0] = int64(r.IntN(8))
		}
		if r.IntN(6) > 0 {
			rows[i][1] = int64(r.IntN(20) - 10)
		}
	}
	return rows
}

// joinInput is a plan producing rows in batches of per rows (a UNION ALL
// of VALUES nodes, so the operator sees several batches).
func joinInput(rows []joinRow, per int) plan.Node {
	var node plan.Node
	for start := 0; start < len(rows) || node == nil; start += per {
		v := &plan.Values{Cols: joinCols}
		for _, r := range rows[start:min(start+per, len(rows))] {
			v.Rows = append(v.Rows, []plan.Expr{&plan.Const{Value: r[0], T: types.Int8}, &plan.Const{Value: r[1], T: types.Int8}})
		}
		if node == nil {
			node = v
		} else {
			node = &plan.SetOp{Kind: plan.Union, All: true, Left: node, Right: v, Cols: joinCols}
		}
		if len(rows) == 0 {
			break
		}
	}
	return node
}

func col(i int, name string) *plan.ColRef { return &plan.ColRef{Idx: i, Name: name, T: types.Int8} }

func render(vals []any) string {
	var parts []string
	for _, v := range vals {
		if v == nil {
			parts = append(parts, "NULL")
		} else {
			parts = append(parts, fmt.Sprint(v))
		}
	}
	return strings.Join(parts, " ")
}

// modelJoin joins the slow way: every pair, with the three-valued
// semantics of keys (NULL never matches), the condition and the mark.
func modelJoin(kind plan.JoinKind, l, r []joinRow, keyed bool, cond func(a, b joinRow) *bool, mark func(a, b joinRow) *bool) []string {
	match := func(a, b joinRow) bool {
		if keyed && (a[0] == nil || b[0] == nil || a[0] != b[0]) {
			return false
		}
		if cond != nil {
			c := cond(a, b)
			return c != nil && *c
		}
		return true
	}
	var out []string
	rmatched := make([]bool, len(r))
	for _, a := range l {
		matched, null := false, false
		for j, b := range r {
			if !match(a, b) {
				continue
			}
			switch kind {
			case plan.InnerJoin, plan.LeftJoin, plan.RightJoin, plan.FullJoin:
				out = append(out, render([]any{a[0], a[1], b[0], b[1]}))
				matched, rmatched[j] = true, true
			case plan.MarkJoin:
				if mark == nil {
					matched = true
					continue
				}
				m := mark(a, b)
				switch {
				case m == nil:
					null = true
				case *m:
					matched = true
				}
			default:
				matched = true
			}
		}
		switch kind {
		case plan.LeftJoin, plan.FullJoin:
			if !matched {
				out = append(out, render([]any{a[0], a[1], nil, nil}))
			}
		case plan.SemiJoin:
			if matched {
				out = append(out, render([]any{a[0], a[1]}))
			}
		case plan.AntiJoin:
			if !matched {
				out = append(out, render([]any{a[0], a[1]}))
			}
		case plan.MarkJoin:
			var m any = matched
			if !matched && null {
				m = nil
			}
			out = append(out, render([]any{a[0], a[1], m}))
		}
	}
	if kind == plan.RightJoin || kind == plan.FullJoin {
		for j, b := range r {
			if !rmatched[j] {
				out = append(out, render([]any{nil, nil, b[0], b[1]}))
			}
		}
	}
	slices.Sort(out)
	return out
}

func less(a, b any) *bool {
	if a == nil || b == nil {
		return nil
	}
	x := a.(int64) < b.(int64)
	return &x
}

func runJoin(t *testing.T, env *Env, j *plan.Join) ([]string, error) {
	t.Helper()
	op, err := Build(env, j)
	if err != nil {
		return nil, err
	}
	var out []string
	err = Drain(context.Background(), op, func(b arrow.RecordBatch) error {
		if b.NumRows() == 0 {
			t.Error("empty batch")
		}
		for i := range int(b.NumRows()) {
			var vals []any
			for c := range int(b.NumCols()) {
				vals = append(vals, valueAt(b.Column(c), i))
			}
			out = append(out, render(vals))
		}
		return nil
	})
	slices.Sort(out)
	return out, err
}

// TestJoinModel checks every join kind, hashed and nested-loop, with and
// without a residual condition, at several batch sizes, against modelJoin.
func TestJoinModel(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	kinds := []plan.JoinKind{plan.InnerJoin, plan.LeftJoin, plan.RightJoin, plan.FullJoin, plan.SemiJoin, plan.AntiJoin, plan.MarkJoin}
	for round := range 12 {
		l, rr := randomJoinRows(r, r.IntN(30)), randomJoinRows(r, r.IntN(30))
		if round%4 == 0 {
			rr = nil
		}
		for _, kind := range kinds {
			for _, keyed := range []bool{true, false} {
				for _, withCond := range []bool{false, true} {
					for _, batch := range []int{1, 3, 1024} {
						mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
						env := &Env{Mem: mem, BatchRows: batch}
						j := &plan.Join{Kind: kind, Left: joinInput(l, 4), Right: joinInput(rr, 5),
							Cols: plan.JoinColumns(kind, joinCols, joinCols)}
						var cond func(a, b joinRow) *bool
						if keyed {
							j.LeftKeys, j.RightKeys = []plan.Expr{col(0, "k")}, []plan.Expr{col(0, "k")}
						} else if !withCond && (kind != plan.MarkJoin || round%2 != 0) {
							// Nested loop on a key equality written as a condition.
							j.Cond = &plan.Cmp{Op: plan.EQ, L: col(0, "k"), R: col(2, "k")}
							cond = func(a, b joinRow) *bool {
								if a[0] == nil || b[0] == nil {
									return nil
								}
								x := a[0] == b[0]
								return &x
							}
						}
						if withCond {
							j.Cond = &plan.Cmp{Op: plan.LT, L: col(1, "v"), R: col(3, "v")}
							cond = func(a, b joinRow) *bool { return less(a[1], b[1]) }
						}
						var mark func(a, b joinRow) *bool
						if kind == plan.MarkJoin && round%2 == 0 {
							j.Mark = &plan.Cmp{Op: plan.EQ, L: col(1, "v"), R: col(3, "v")}
							mark = func(a, b joinRow) *bool {
								if a[1] == nil || b[1] == nil {
									return nil
								}
								x := a[1] == b[1]
								return &x
							}
						}
						got, err := runJoin(t, env, j)
						if err != nil {
							t.Fatal(err)
						}
						want := modelJoin(kind, l, rr, keyed, cond, mark)
						if !slices.Equal(got, want) {
							t.Fatalf("round %d %s keyed=%v cond=%v batch=%d:\ngot  %q\nwant %q", round, kind, keyed, withCond, batch, got, want)
						}
						mem.AssertSize(t, 0)
					}
				}
			}
		}
	}
}

func TestJoinBuildLimit(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer mem.AssertSize(t, 0)
	rows := randomJoinRows(rand.New(rand.NewPCG(1, 2)), 50)
	j := &plan.Join{Kind: plan.InnerJoin, Left: joinInput(rows, 4), Right: joinInput(rows, 4),
		LeftKeys: []plan.Expr{col(0, "k")}, RightKeys: []plan.Expr{col(0, "k")}, Cols: plan.JoinColumns(plan.InnerJoin, joinCols, joinCols)}
	_, err := runJoin(t, &Env{Mem: mem, MaxJoinRows: 10}, j)
	if sqlerr.Code(err) != CodeOutOfMemory {
		t.Fatalf("got %v, want SQLSTATE %s", err, CodeOutOfMemory)
	}
}

func TestJoinSingle(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer mem.AssertSize(t, 0)
	one := int64(1)
	j := &plan.Join{Kind: plan.LeftJoin, Single: true, Left: joinInput([]joinRow{{one, one}}, 4), Right: joinInput([]joinRow{{one, nil}, {one, one}}, 4),
		LeftKeys: []plan.Expr{col(0, "k")}, RightKeys: []plan.Expr{col(0, "k")}, Cols: plan.JoinColumns(plan.LeftJoin, joinCols, joinCols)}
	_, err := runJoin(t, &Env{Mem: mem}, j)
	if sqlerr.Code(err) != codeCardinalityViolation {
		t.Fatalf("got %v, want SQLSTATE %s", err, codeCardinalityViolation)
	}
}

// TestRecursionLimit runs a recursive CTE that never reaches a fixpoint.
func TestRecursionLimit(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer mem.AssertSize(t, 0)
	cols := []plan.Column{{Name: "n", T: types.Int8}}
	n := &plan.RecursiveCTE{ID: 1, All: true, Cols: cols,
		Init: &plan.Values{Cols: cols, Rows: [][]plan.Expr{{&plan.Const{Value: int64(1), T: types.Int8}}}},
		Step: &plan.WorkScan{ID: 1, Cols: cols}}
	op, err := Build(&Env{Mem: mem}, n)
	if err != nil {
		t.Fatal(err)
	}
	err = Drain(context.Background(), op, func(arrow.RecordBatch) error { return nil })
	if sqlerr.Code(err) != sqlerr.CodeProgramLimitExceeded {
		t.Fatalf("got %v, want SQLSTATE %s", err, sqlerr.CodeProgramLimitExceeded)
	}
}
