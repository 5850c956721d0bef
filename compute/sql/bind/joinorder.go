package bind

import (
	"math"
	"math/bits"
	"slices"

	"github.com/phantom-db/phantom/compute/sql/catalog"
	"github.com/phantom-db/phantom/compute/sql/plan"
)

// Join ordering. After decorrelation and filter pushdown, a maximal tree
// of inner joins (JOIN ... ON, comma joins whose WHERE conjuncts became
// join keys) is flattened into a join graph: the relations under it
// (anything that is not an inner join: scans, filtered scans, outer, semi,
// anti and mark joins, aggregates — each optimized on its own, so outer
// joins reorder within their inputs only) and the predicates over them.
// Up to dpRelations relations the cheapest bushy tree is found by dynamic
// programming over connected subsets (no cross product unless the graph is
// disconnected); beyond, greedily, joining the pair with the smallest
// result first. The cost of a tree is C_out — the sum of its intermediate
// result sizes — plus the rows of every build side. Each predicate is
// placed at the lowest join that has all its columns; the larger input is
// the probe (left) side. A Project restores the original column order,
// since column references above are positional.

// dpRelations is the largest join graph ordered by dynamic programming
// (3^n split pairs).
const dpRelations = 10

// joinPred is a predicate of a join graph over the concatenated columns of
// all relations in their original order.
type joinPred struct {
	e    plan.Expr
	rels uint64 // the relations it reads
	// For an equality of two single-relation sides: the relations (a < b)
	// and each side's expression over its relation's own columns.
	equi       bool
	a, b       int
	aKey, bKey plan.Expr
}

// joinGraph is a flattened tree of inner joins.
type joinGraph struct {
	rels  []plan.Node // each with its single-relation predicates applied
	offs  []int       // first global column of each relation
	preds []joinPred  // over two or more relations
	konst []plan.Expr // read no column: filtered above the result
	local [][]plan.Expr
	est   *plan.Estimator
	// sels are the selectivity groups: per pair of relations joined by
	// equalities the combined key selectivity, and one per other
	// predicate.
	sels []joinSel
}

type joinSel struct {
	rels uint64
	sel  float64
}

// jtree is a join tree over relation subsets.
type jtree struct {
	mask        uint64
	leaf        int // when left == nil
	left, right *jtree
	cost, rows  float64
}

// reorderJoins rewrites the inner join tree rooted at j.
func (b *Binder) reorderJoins(j *plan.Join) plan.Node {
	g := &joinGraph{est: b.estimator()}
	var raw [][]plan.Expr
	g.collect(b, j, 0, &raw)
	g.local = make([][]plan.Expr, len(g.rels))
	for _, conj := range raw {
		for _, e := range conj {
			g.addPred(e)
		}
	}
	for i, l := range g.local {
		if len(l) == 0 {
			continue
		}
		f := &plan.Filter{Input: g.rels[i], Pred: and(l)}
		if in, ok := f.Input.(*plan.Filter); ok {
			f = &plan.Filter{Input: in.Input, Pred: and(append(conjuncts(in.Pred, nil), l...))}
		}
		if _, ok := f.Input.(*plan.Scan); ok {
			g.rels[i] = b.accessPath(f)
		} else {
			g.rels[i] = f
		}
	}
	g.groupSelectivities()
	var best *jtree
	if len(g.rels) <= dpRelations {
		if best = g.dp(false); best == nil {
			best = g.dp(true)
		}
	} else {
		best = g.greedy()
	}
	root, layout := g.emit(best)
	out := g.restoreOrder(root, layout, j.Cols)
	if len(g.konst) > 0 {
		out = &plan.Filter{Input: out, Pred: and(g.konst)}
	}
	return out
}

// estimator returns the binder's cardinality estimator over the catalog's
// statistics.
func (b *Binder) estimator() *plan.Estimator {
	if b.est == nil {
		x, err := b.ext()
		if err != nil {
			b.est = plan.NewEstimator(nil)
		} else {
			b.est = plan.NewEstimator(func(id uint64) *catalog.TableStats {
				st, err := x.Stats(b.ctx, id)
				if err != nil {
					return nil
				}
				return st
			})
		}
	}
	return b.est
}

// collect flattens the inner joins under n (whose first column is global
// column off), appending each join's key equalities and condition
// conjuncts, over global columns, to raw.
func (g *joinGraph) collect(b *Binder, n plan.Node, off int, raw *[][]plan.Expr) {
	j, ok := n.(*plan.Join)
	if !ok || j.Kind != plan.InnerJoin || j.Single || j.Mark != nil || len(g.rels) >= 64 {
		g.rels = append(g.rels, b.optimize(n))
		g.offs = append(g.offs, off)
		return
	}
	nl := len(j.Left.Columns())
	g.collect(b, j.Left, off, raw)
	g.collect(b, j.Right, off+nl, raw)
	var conj []plan.Expr
	for i := range j.LeftKeys {
		conj = append(conj, &plan.Cmp{Op: plan.EQ, L: shiftCols(j.LeftKeys[i], off), R: shiftCols(j.RightKeys[i], off+nl)})
	}
	if j.Cond != nil {
		for _, c := range conjuncts(j.Cond, nil) {
			conj = append(conj, shiftCols(c, off))
		}
	}
	*raw = append(*raw, conj)
}

// relOf returns the relation holding global column c.
func (g *joinGraph) relOf(c int) int {
	i, found := slices.BinarySearch(g.offs, c)
	if found {
		// Zero-width relations share an offset with the next: take the
		// last relation starting here.
		for i+1 < len(g.offs) && g.offs[i+1] == c {
			i++
		}
		return i
	}
	return i - 1
}

// relsOf returns the relations e reads.
func (g *joinGraph) relsOf(e plan.Expr) uint64 {
	var m uint64
	plan.Walk(e, func(x plan.Expr) bool {
		if c, ok := x.(*plan.ColRef); ok {
			m |= 1 << g.relOf(c.Idx)
		}
		return true
	})
	return m
}

// addPred files one conjunct: constant, local to one relation, or a join
// predicate.
func (g *joinGraph) addPred(e plan.Expr) {
	m := g.relsOf(e)
	switch bits.OnesCount64(m) {
	case 0:
		g.konst = append(g.konst, e)
		return
	case 1:
		r := bits.TrailingZeros64(m)
		g.local[r] = append(g.local[r], shiftCols(e, -g.offs[r]))
		return
	}
	if or, ok := e.(*plan.Or); ok {
		g.impliedRestrictions(or, m)
	}
	p := joinPred{e: e, rels: m}
	if c, ok := e.(*plan.Cmp); ok && c.Op == plan.EQ {
		lm, rm := g.relsOf(c.L), g.relsOf(c.R)
		if bits.OnesCount64(lm) == 1 && bits.OnesCount64(rm) == 1 && lm != rm {
			a, b := bits.TrailingZeros64(lm), bits.TrailingZeros64(rm)
			ak, bk := c.L, c.R
			if a > b {
				a, b, ak, bk = b, a, bk, ak
			}
			p.equi, p.a, p.b = true, a, b
			p.aKey, p.bKey = shiftCols(ak, -g.offs[a]), shiftCols(bk, -g.offs[b])
		}
	}
	g.preds = append(g.preds, p)
}

// impliedRestrictions filters each relation an OR over several relations
// reads by what every branch requires of that relation alone, as
// PostgreSQL does: (n1 = 'A' AND n2 = 'B') OR (n1 = 'B' AND n2 = 'A')
// implies n1 IN ('A', 'B') before the join (TPC-H Q7). The OR itself stays
// at its join.
func (g *joinGraph) impliedRestrictions(or *plan.Or, m uint64) {
	branches := disjuncts(or, nil)
	for rm := m; rm != 0; rm &= rm - 1 {
		r := bits.TrailingZeros64(rm)
		var implied plan.Expr
		for _, br := range branches {
			var own []plan.Expr
			for _, c := range conjuncts(br, nil) {
				if g.relsOf(c) == 1<<r {
					own = append(own, shiftCols(c, -g.offs[r]))
				}
			}
			if len(own) == 0 {
				implied = nil
				break
			}
			if implied == nil {
				implied = and(own)
			} else {
				implied = &plan.Or{L: implied, R: and(own)}
			}
		}
		if implied != nil {
			g.local[r] = append(g.local[r], implied)
		}
	}
}

// groupSelectivities estimates each predicate group's selectivity once:
// the equalities between one pair of relations together (a composite key
// is at most as selective as a unique one), every other predicate on its
// own.
func (g *joinGraph) groupSelectivities() {
	type pair struct{ a, b int }
	keys := map[pair][2][]plan.Expr{}
	var order []pair
	for _, p := range g.preds {
		if !p.equi {
			sel := plan.DefaultRangeSel
			if c, ok := p.e.(*plan.Cmp); ok && c.Op == plan.EQ {
				sel = plan.DefaultEqSel
			}
			g.sels = append(g.sels, joinSel{rels: p.rels, sel: sel})
			continue
		}
		k := pair{p.a, p.b}
		ks, seen := keys[k]
		if !seen {
			order = append(order, k)
		}
		keys[k] = [2][]plan.Expr{append(ks[0], p.aKey), append(ks[1], p.bKey)}
	}
	for _, k := range order {
		ks := keys[k]
		sel := g.est.KeySelectivity(g.rels[k.a], g.rels[k.b], ks[0], ks[1])
		g.sels = append(g.sels, joinSel{rels: 1<<k.a | 1<<k.b, sel: sel})
	}
}

// rows estimates the result of joining the relations of mask: the product
// of their rows and of the selectivities of the predicates within it (the
// same whatever the join order).
func (g *joinGraph) rows(mask uint64) float64 {
	r := 1.0
	for m := mask; m != 0; m &= m - 1 {
		r *= g.est.Rows(g.rels[bits.TrailingZeros64(m)])
	}
	for _, s := range g.sels {
		if s.rels&mask == s.rels {
			r *= s.sel
		}
	}
	return max(1, r)
}

// connected reports whether a predicate joins s1 and s2.
func (g *joinGraph) connected(s1, s2 uint64) bool {
	for _, p := range g.preds {
		if p.rels&(s1|s2) == p.rels && p.rels&s1 != 0 && p.rels&s2 != 0 {
			return true
		}
	}
	return false
}

func (g *joinGraph) leaf(i int) *jtree {
	return &jtree{mask: 1 << i, leaf: i, rows: g.est.Rows(g.rels[i])}
}

func (g *joinGraph) join(l, r *jtree) *jtree {
	m := l.mask | r.mask
	rows := g.rows(m)
	return &jtree{mask: m, left: l, right: r, rows: rows,
		cost: l.cost + r.cost + rows + min(l.rows, r.rows)}
}

// dp finds the cheapest tree by dynamic programming over subsets; nil
// when the graph is disconnected and cross products are not allowed.
func (g *joinGraph) dp(cross bool) *jtree {
	n := len(g.rels)
	full := uint64(1)<<n - 1
	best := make([]*jtree, full+1)
	for i := range n {
		best[1<<i] = g.leaf(i)
	}
	for s := uint64(1); s <= full; s++ {
		if bits.OnesCount64(s) < 2 {
			continue
		}
		for s1 := (s - 1) & s; s1 > 0; s1 = (s1 - 1) & s {
			s2 := s ^ s1
			if s1 > s2 || best[s1] == nil || best[s2] == nil {
				continue
			}
			if !cross && !g.connected(s1, s2) {
				continue
			}
			t := g.join(best[s1], best[s2])
			if best[s] == nil || t.cost < best[s].cost {
				best[s] = t
			}
		}
	}
	return best[full]
}

// greedy joins, until one tree remains, the two connected trees whose
// join is smallest (any two when none is connected).
func (g *joinGraph) greedy() *jtree {
	var ts []*jtree
	for i := range g.rels {
		ts = append(ts, g.leaf(i))
	}
	for len(ts) > 1 {
		bi, bj, bestRows, bestConn := -1, -1, math.Inf(1), false
		for i := range ts {
			for j := i + 1; j < len(ts); j++ {
				conn := g.connected(ts[i].mask, ts[j].mask)
				if bestConn && !conn {
					continue
				}
				r := g.rows(ts[i].mask | ts[j].mask)
				if (conn && !bestConn) || r < bestRows {
					bi, bj, bestRows, bestConn = i, j, r, conn
				}
			}
		}
		t := g.join(ts[bi], ts[bj])
		ts[bi] = t
		ts = slices.Delete(ts, bj, bj+1)
	}
	return ts[0]
}

// emit builds the plan of t and returns it with its relations in column
// order.
func (g *joinGraph) emit(t *jtree) (plan.Node, []int) {
	if t.left == nil {
		return g.rels[t.leaf], []int{t.leaf}
	}
	l, r := t.left, t.right
	if l.rows < r.rows {
		l, r = r, l // the smaller input builds
	}
	ln, ll := g.emit(l)
	rn, rl := g.emit(r)
	layout := append(append([]int(nil), ll...), rl...)
	pos := g.positions(layout)
	var conj []plan.Expr
	for _, p := range g.preds {
		if p.rels&t.mask == p.rels && p.rels&l.mask != p.rels && p.rels&r.mask != p.rels {
			conj = append(conj, remapCols(p.e, pos))
		}
	}
	nl := len(ln.Columns())
	lk, rk, cond := equiKeys(conj, nl)
	return &plan.Join{Kind: plan.InnerJoin, Left: ln, Right: rn, LeftKeys: lk, RightKeys: rk, Cond: cond,
		Cols: plan.JoinColumns(plan.InnerJoin, ln.Columns(), rn.Columns())}, layout
}

// positions maps each global column of the relations in layout to its
// position in their concatenation (-1: not in layout).
func (g *joinGraph) positions(layout []int) []int {
	total := 0
	if n := len(g.rels); n > 0 {
		total = g.offs[n-1] + len(g.rels[n-1].Columns())
	}
	pos := make([]int, total)
	for i := range pos {
		pos[i] = -1
	}
	at := 0
	for _, r := range layout {
		for c := range g.rels[r].Columns() {
			pos[g.offs[r]+c] = at
			at++
		}
	}
	return pos
}

// restoreOrder projects root's columns (its relations in layout order)
// back to the original order, cols.
func (g *joinGraph) restoreOrder(root plan.Node, layout []int, cols []plan.Column) plan.Node {
	if slices.IsSorted(layout) {
		return root
	}
	pos := g.positions(layout)
	exprs := make([]plan.Expr, len(cols))
	for i, c := range cols {
		exprs[i] = &plan.ColRef{Idx: pos[i], Name: c.Name, T: c.T}
	}
	return &plan.Project{Input: root, Exprs: exprs, Cols: cols}
}

// remapCols renumbers e's column references through pos.
func remapCols(e plan.Expr, pos []int) plan.Expr {
	out, _ := plan.Map(e, func(x plan.Expr) (plan.Expr, error) {
		if c, ok := x.(*plan.ColRef); ok {
			return &plan.ColRef{Idx: pos[c.Idx], Name: c.Name, T: c.T}, nil
		}
		return nil, nil
	})
	return out
}
