package sql

import (
	"context"
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/phantom-db/phantom/compute/sql/exec"
	"github.com/phantom-db/phantom/compute/sql/plan"
	"github.com/phantom-db/phantom/compute/storage"
)

func isQuery(st plan.Statement) bool {
	_, ok := st.(*plan.Query)
	return ok
}

// writeMore runs the writing statements of the DDL/index/sequence slice;
// ok is false for the others.
func (e *Engine) writeMore(ctx context.Context, env *exec.Env, bound plan.Statement, res *Result, setCols func(*plan.Returning), emit *exec.Emit) ([]storage.Mutation, bool, error) {
	var muts []storage.Mutation
	var err error
	switch p := bound.(type) {
	case *plan.CreateIndex:
		muts, err = exec.CreateIndex(ctx, env, p)
		res.Command = "CREATE INDEX"
	case *plan.DropIndex:
		muts, err = exec.DropIndex(env, p)
		res.Command = "DROP INDEX"
	case *plan.AlterTable:
		if p.Old != nil {
			muts, err = exec.AlterTable(ctx, env, p)
		}
		res.Command = p.Tag
	case *plan.Truncate:
		muts, err = exec.Truncate(ctx, env, p)
		res.Command = "TRUNCATE TABLE"
	case *plan.CreateSequence:
		muts, err = exec.CreateSequence(ctx, env, p)
		res.Command = "CREATE SEQUENCE"
	case *plan.DropSequence:
		muts = exec.DropSequence(env, p)
		res.Command = "DROP SEQUENCE"
	case *plan.Analyze:
		muts, err = exec.Analyze(ctx, env, p)
		res.Command = "ANALYZE"
		if p.Vacuum {
			res.Command = "VACUUM"
		}
	case *plan.Explain:
		// EXPLAIN ANALYZE of INSERT/UPDATE/DELETE runs the statement (its
		// writes go to the transaction, as in PostgreSQL) with profiling.
		env.Profile = exec.NewProfile()
		inner := &Result{}
		muts, err = e.write(ctx, env, p.Stmt, inner)
		inner.Release()
		if err != nil {
			return nil, true, err
		}
		lines := explainLines(p.Stmt, env.Profile, env.Estimator())
		lines[0] += fmt.Sprintf(" (actual rows=%d)", inner.RowCount)
		fillExplain(res, lines, e.cfg.Allocator)
		return muts, true, nil
	default:
		return nil, false, nil
	}
	return muts, true, err
}

// explain answers EXPLAIN of any statement and EXPLAIN ANALYZE of a query
// (run to the end, its rows discarded).
func (e *Engine) explain(ctx context.Context, env *exec.Env, ex *plan.Explain) (*Result, error) {
	var prof *exec.Profile
	if ex.Analyze {
		prof = exec.NewProfile()
		env.Profile = prof
		q := ex.Stmt.(*plan.Query)
		op, err := exec.Build(env, q.Root)
		if err != nil {
			return nil, err
		}
		if err := exec.Drain(ctx, op, func(arrow.RecordBatch) error { return nil }); err != nil {
			return nil, err
		}
	}
	res := &Result{}
	fillExplain(res, explainLines(ex.Stmt, prof, env.Estimator()), e.cfg.Allocator)
	return res, nil
}

func fillExplain(res *Result, lines []string, mem memory.Allocator) {
	res.Columns = []Column{{Name: "QUERY PLAN", Type: "text"}}
	b := array.NewStringBuilder(mem)
	defer b.Release()
	b.AppendValues(lines, nil)
	col := b.NewArray()
	defer col.Release()
	schema := arrow.NewSchema([]arrow.Field{{Name: "QUERY PLAN", Type: arrow.BinaryTypes.String, Nullable: true}}, nil)
	res.Batches = []arrow.RecordBatch{array.NewRecordBatch(schema, []arrow.Array{col}, int64(len(lines)))}
	res.RowCount = int64(len(lines))
	res.Command = "EXPLAIN"
}

// explainLines renders a statement's plan, one operator per line, children
// indented under "->" as PostgreSQL does. Each line ends in the planner's
// estimate of the operator's rows and, with a profile, its actual rows and
// time.
func explainLines(st plan.Statement, prof *exec.Profile, est *plan.Estimator) []string {
	var lines []string
	var node func(n plan.Node, depth int)
	node = func(n plan.Node, depth int) {
		prefix := ""
		if depth > 0 {
			prefix = strings.Repeat("      ", depth-1) + "  ->  "
		}
		line, children := describe(n)
		line += fmt.Sprintf(" (rows=%.0f)", est.Rows(n))
		if prof != nil {
			if s := prof.Stats(n); s != nil {
				line += fmt.Sprintf(" (actual rows=%d batches=%d time=%.3f ms)", s.Rows, s.Batches, float64(s.Time.Microseconds())/1000)
			} else {
				line += " (never executed)"
			}
		}
		lines = append(lines, prefix+line)
		for _, c := range children {
			node(c, depth+1)
		}
	}
	switch x := st.(type) {
	case *plan.Query:
		node(x.Root, 0)
	case *plan.Insert:
		lines = append(lines, "Insert on "+x.Table.Name+conflictText(x.OnConflict))
		node(x.Source, 1)
	case *plan.Update:
		lines = append(lines, "Update on "+x.Table.Name)
		node(x.Input, 1)
	case *plan.Delete:
		lines = append(lines, "Delete on "+x.Table.Name)
		node(x.Input, 1)
	}
	return lines
}

func conflictText(oc *plan.OnConflict) string {
	switch {
	case oc == nil:
		return ""
	case oc.DoNothing:
		return " (on conflict do nothing)"
	}
	return " (on conflict do update)"
}

// describe renders one plan node and returns its inputs.
func describe(n plan.Node) (string, []plan.Node) {
	switch x := n.(type) {
	case *plan.Scan:
		return "Seq Scan on " + x.Table.Name, nil
	case *plan.IndexScan:
		s := fmt.Sprintf("Index Scan using %s on %s (%s)", x.IndexName(), x.Table.Name, x.Describe())
		if x.Est >= 0 {
			s += fmt.Sprintf(" est=%.0f", x.Est)
		}
		return s, nil
	case *plan.Values:
		return fmt.Sprintf("Values (%d rows)", len(x.Rows)), nil
	case *plan.Series:
		return fmt.Sprintf("Function Scan on generate_series(%s, %s, %s)", x.Start, x.Stop, x.Step), nil
	case *plan.DMLJoin:
		return "Nested Loop (first match) " + x.Pred.String(), []plan.Node{x.Left, x.Right}
	case *plan.Filter:
		return "Filter " + x.Pred.String(), []plan.Node{x.Input}
	case *plan.Project:
		var items []string
		for i, e := range x.Exprs {
			items = append(items, fmt.Sprintf("%s AS %s", e, x.Cols[i].Name))
		}
		return "Project " + strings.Join(items, ", "), []plan.Node{x.Input}
	case *plan.Sort:
		var keys []string
		for _, k := range x.Keys {
			s := fmt.Sprintf("#%d", k.Col)
			if k.Desc {
				s += " desc"
			}
			keys = append(keys, s)
		}
		return "Sort " + strings.Join(keys, ", "), []plan.Node{x.Input}
	case *plan.Limit:
		return fmt.Sprintf("Limit offset=%d count=%d", x.Offset, x.Count), []plan.Node{x.Input}
	case *plan.Aggregate:
		return fmt.Sprintf("HashAggregate keys=%d aggs=%d", len(x.GroupBy), len(x.Aggs)), []plan.Node{x.Input}
	case *plan.Join:
		return describeJoin(x), []plan.Node{x.Left, x.Right}
	case *plan.MaxOneRow:
		return "MaxOneRow", []plan.Node{x.Input}
	case *plan.SetOp:
		all := ""
		if x.All {
			all = " All"
		}
		return fmt.Sprintf("SetOp %s%s", x.Kind, all), []plan.Node{x.Left, x.Right}
	case *plan.DistinctOn:
		return fmt.Sprintf("Unique on %v", x.Keys), []plan.Node{x.Input}
	case *plan.Window:
		return fmt.Sprintf("WindowAgg %d functions", len(x.Funcs)), []plan.Node{x.Input}
	case *plan.RecursiveCTE:
		return "Recursive Union", []plan.Node{x.Init, x.Step}
	case *plan.WorkScan:
		return "WorkTable Scan", nil
	}
	return fmt.Sprintf("%T", n), nil
}

// describeJoin renders a join: a hash join with its keys, a nested loop
// without, then its residual condition.
func describeJoin(j *plan.Join) string {
	var sb strings.Builder
	if len(j.LeftKeys) > 0 {
		sb.WriteString("Hash Join " + j.Kind.String())
		for i := range j.LeftKeys {
			sep := " on "
			if i > 0 {
				sep = " and "
			}
			fmt.Fprintf(&sb, "%s%s = %s", sep, j.LeftKeys[i], j.RightKeys[i])
		}
	} else {
		sb.WriteString("Nested Loop " + j.Kind.String())
	}
	if j.Cond != nil {
		sb.WriteString(" filter " + j.Cond.String())
	}
	if j.Mark != nil {
		sb.WriteString(" mark " + j.Mark.String())
	}
	return sb.String()
}
