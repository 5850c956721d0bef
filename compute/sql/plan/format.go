package plan

import (
	"fmt"
	"strings"
)

// Format renders a statement plan as an indented tree, one node per line,
// for tests and debugging.
func Format(s Statement) string {
	var sb strings.Builder
	switch x := s.(type) {
	case *Query:
		formatNode(&sb, x.Root, 0)
	case *Insert:
		fmt.Fprintf(&sb, "Insert %s\n", x.Table.Name)
		formatNode(&sb, x.Source, 1)
	case *CreateTable:
		var cols []string
		for _, c := range x.Table.Columns {
			nn := ""
			if c.NotNull {
				nn = " not null"
			}
			cols = append(cols, c.Name+" "+c.Type.String()+nn)
		}
		fmt.Fprintf(&sb, "CreateTable %s (%s) pk=%v exists=%v\n", x.Table.Name, strings.Join(cols, ", "), x.Table.PrimaryKey, x.Exists)
	case *DropTable:
		var names []string
		for _, t := range x.Tables {
			names = append(names, t.Name)
		}
		fmt.Fprintf(&sb, "DropTable %s\n", strings.Join(names, ", "))
	}
	return sb.String()
}

func formatNode(sb *strings.Builder, n Node, depth int) {
	sb.WriteString(strings.Repeat("  ", depth))
	switch x := n.(type) {
	case *Scan:
		fmt.Fprintf(sb, "Scan %s\n", x.Table.Name)
		return
	case *IndexScan:
		fmt.Fprintf(sb, "IndexScan %s@%s (%s)\n", x.Table.Name, x.IndexName(), x.Describe())
		return
	case *Values:
		var rows []string
		for _, r := range x.Rows {
			var cells []string
			for _, e := range r {
				cells = append(cells, e.String())
			}
			rows = append(rows, "("+strings.Join(cells, ", ")+")")
		}
		fmt.Fprintf(sb, "Values %s\n", strings.Join(rows, ", "))
		return
	case *Filter:
		fmt.Fprintf(sb, "Filter %s\n", x.Pred)
		formatNode(sb, x.Input, depth+1)
	case *Project:
		var items []string
		for i, e := range x.Exprs {
			items = append(items, fmt.Sprintf("%s AS %s", e, x.Cols[i].Name))
		}
		fmt.Fprintf(sb, "Project %s\n", strings.Join(items, ", "))
		formatNode(sb, x.Input, depth+1)
	case *Sort:
		var keys []string
		for _, k := range x.Keys {
			s := fmt.Sprintf("#%d", k.Col)
			if k.Desc {
				s += " desc"
			}
			if k.NullsFirst {
				s += " nulls first"
			} else {
				s += " nulls last"
			}
			keys = append(keys, s)
		}
		fmt.Fprintf(sb, "Sort %s\n", strings.Join(keys, ", "))
		formatNode(sb, x.Input, depth+1)
	case *Limit:
		fmt.Fprintf(sb, "Limit offset=%d count=%d\n", x.Offset, x.Count)
		formatNode(sb, x.Input, depth+1)
	case *Aggregate:
		var aggs []string
		for _, a := range x.Aggs {
			switch {
			case a.Func == CountStar:
				aggs = append(aggs, "count(*)")
			case a.Distinct:
				aggs = append(aggs, fmt.Sprintf("%s(DISTINCT %s)", a.Func, a.Arg))
			default:
				aggs = append(aggs, fmt.Sprintf("%s(%s)", a.Func, a.Arg))
			}
		}
		if len(x.GroupBy) > 0 {
			var keys []string
			for _, g := range x.GroupBy {
				keys = append(keys, g.String())
			}
			fmt.Fprintf(sb, "Aggregate group=[%s]%s\n", strings.Join(keys, ", "), strings.TrimRight(" "+strings.Join(aggs, ", "), " "))
		} else {
			fmt.Fprintf(sb, "Aggregate %s\n", strings.Join(aggs, ", "))
		}
		formatNode(sb, x.Input, depth+1)
	default:
		if !formatRel(sb, n, depth) {
			fmt.Fprintf(sb, "%T\n", n)
		}
	}
}
