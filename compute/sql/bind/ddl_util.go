package bind

import (
	"context"
	"fmt"
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/phantom-db/phantom/compute/sql/catalog"
	"github.com/phantom-db/phantom/compute/sql/plan"
	"github.com/phantom-db/phantom/compute/sql/sqlerr"
)

// catalogExt is the part of the catalog beyond tables; *catalog.Reader
// implements it.
type catalogExt interface {
	Sequence(ctx context.Context, name string) (*catalog.Sequence, error)
	IndexTable(ctx context.Context, name string) (string, error)
	Stats(ctx context.Context, table uint64) (*catalog.TableStats, error)
}

func (b *Binder) ext() (catalogExt, error) {
	c, ok := b.cat.(catalogExt)
	if !ok {
		return nil, sqlerr.NotSupported("indexes and sequences on this catalog")
	}
	return c, nil
}

// SequenceRuntime performs sequence functions for the session.
type SequenceRuntime interface {
	Nextval(s *catalog.Sequence) (int64, error)
	Currval(name string) (int64, error)
	Setval(s *catalog.Sequence, v int64, called bool) (int64, error)
}

// WithSequences sets what nextval/currval/setval call.
func (b *Binder) WithSequences(r SequenceRuntime) *Binder {
	b.seqs = r
	return b
}

// deparseExpr renders an expression parse tree as SQL text.
func deparseExpr(n *pg_query.Node) (string, error) {
	tree := &pg_query.ParseResult{Version: parseVersion(), Stmts: []*pg_query.RawStmt{{Stmt: &pg_query.Node{Node: &pg_query.Node_SelectStmt{SelectStmt: &pg_query.SelectStmt{
		TargetList: []*pg_query.Node{{Node: &pg_query.Node_ResTarget{ResTarget: &pg_query.ResTarget{Val: n}}}},
	}}}}}}
	s, err := pg_query.Deparse(tree)
	if err != nil {
		return "", fmt.Errorf("bind: deparse expression: %w", err)
	}
	return strings.TrimPrefix(s, "SELECT "), nil
}

// parseVersion is the parse-tree version pg_query's deparser expects.
func parseVersion() int32 {
	t, err := pg_query.Parse("SELECT 1")
	if err != nil {
		return 0
	}
	return t.Version
}

// parseStoredExpr parses SQL expression text stored in the catalog.
func parseStoredExpr(text string) (*pg_query.Node, error) {
	tree, err := pg_query.Parse("SELECT " + text)
	if err != nil {
		return nil, fmt.Errorf("bind: stored expression %q: %w", text, err)
	}
	return tree.Stmts[0].Stmt.GetSelectStmt().TargetList[0].GetResTarget().Val, nil
}

// bindStoredExpr binds stored expression text over sc (nil: no columns).
// Locations in it do not refer to the query, so they are dropped.
func (b *Binder) bindStoredExpr(text string, sc *scope, clause string) (plan.Expr, error) {
	n, err := parseStoredExpr(text)
	if err != nil {
		return nil, err
	}
	sub := *b
	sub.query = ""
	return sub.expr(n, &exprCtx{sc: sc, noAggClause: clause})
}

// walkColumnRefs calls fn on every ColumnRef inside msg.
func walkColumnRefs(msg proto.Message, fn func(*pg_query.ColumnRef)) {
	if msg == nil {
		return
	}
	if cr, ok := msg.(*pg_query.ColumnRef); ok {
		fn(cr)
		return
	}
	m := msg.ProtoReflect()
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		if fd.Kind() != protoreflect.MessageKind {
			return true
		}
		switch {
		case fd.IsList():
			l := v.List()
			for i := range l.Len() {
				walkColumnRefs(l.Get(i).Message().Interface(), fn)
			}
		case fd.IsMap():
		default:
			walkColumnRefs(v.Message().Interface(), fn)
		}
		return true
	})
}

// referencedColumns returns the distinct column names an expression reads.
func referencedColumns(n *pg_query.Node) []string {
	var out []string
	seen := map[string]bool{}
	walkColumnRefs(n, func(cr *pg_query.ColumnRef) {
		f := cr.Fields[len(cr.Fields)-1].GetString_().GetSval()
		if f != "" && !seen[f] {
			seen[f] = true
			out = append(out, f)
		}
	})
	return out
}

// uniqueName returns base, or base1, base2... when taken(base) holds.
func uniqueName(base string, taken func(string) bool) string {
	if !taken(base) {
		return base
	}
	for i := 1; ; i++ {
		if n := fmt.Sprintf("%s%d", base, i); !taken(n) {
			return n
		}
	}
}

// rangeVarOf builds a RangeVar from a qualified name list.
func rangeVarOf(items []*pg_query.Node) *pg_query.RangeVar {
	var parts []string
	for _, item := range items {
		parts = append(parts, item.GetString_().GetSval())
	}
	rv := &pg_query.RangeVar{Relname: parts[len(parts)-1], Location: -1}
	if len(parts) == 2 {
		rv.Schemaname = parts[0]
	} else if len(parts) > 2 {
		rv.Catalogname = parts[0]
	}
	return rv
}

// relationExists reports whether a table, index or sequence has name
// (they share PostgreSQL's relation namespace).
func (b *Binder) relationExists(name string) (bool, error) {
	t, err := b.cat.Table(b.ctx, name)
	if err != nil || t != nil {
		return t != nil, err
	}
	x, err := b.ext()
	if err != nil {
		return false, nil
	}
	if tn, err := x.IndexTable(b.ctx, name); err != nil || tn != "" {
		return tn != "", err
	}
	s, err := x.Sequence(b.ctx, name)
	return s != nil, err
}
