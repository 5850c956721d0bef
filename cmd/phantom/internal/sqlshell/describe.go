package sqlshell

import (
	"context"
	"fmt"
	"strings"
)

// relKinds maps the describe commands to the pg_class relkinds they list.
var relKinds = map[string]string{
	`\d`:  "'r','v','S','p'",
	`\dt`: "'r','p'",
	`\di`: "'i'",
	`\dv`: "'v'",
	`\ds`: "'S'",
}

// quoteLiteral quotes s as an SQL string literal.
func quoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// describe runs \d, \dt, \di, \dv, \ds (list relations) and \d NAME
// (columns and indexes of one relation) over pg_catalog, as psql does.
func (s *Shell) describe(ctx context.Context, cmd string, args []string) error {
	cmd = strings.TrimSuffix(cmd, "+")
	if cmd == `\d` && len(args) > 0 {
		return s.describeRelation(ctx, args[0])
	}
	kinds, ok := relKinds[cmd]
	if !ok {
		return s.metaError("invalid command %s; try \\? for help.", cmd)
	}
	q := `SELECT n.nspname AS "Schema", c.relname AS "Name",
  CASE c.relkind WHEN 'r' THEN 'table' WHEN 'p' THEN 'partitioned table' WHEN 'v' THEN 'view'
    WHEN 'i' THEN 'index' WHEN 'S' THEN 'sequence' END AS "Type",
  pg_catalog.pg_get_userbyid(c.relowner) AS "Owner"
FROM pg_catalog.pg_class c LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN (` + kinds + `) AND n.nspname <> 'pg_catalog' AND n.nspname <> 'information_schema'`
	if len(args) > 0 {
		q += ` AND c.relname = ` + quoteLiteral(args[0])
	}
	q += ` ORDER BY 1, 2`
	res, err := s.cfg.Client.Query(ctx, q)
	if err != nil {
		s.printError(q, err)
		return errPrinted
	}
	if len(res.Rows) == 0 {
		fmt.Fprintln(s.cfg.Out, "Did not find any relations.")
		return nil
	}
	fmt.Fprintln(s.cfg.Out, "List of relations")
	return WriteResult(s.cfg.Out, s.format, res)
}

// describeRelation prints one relation's columns (type, NOT NULL,
// default) and its indexes.
func (s *Shell) describeRelation(ctx context.Context, name string) error {
	rel := quoteLiteral(name)
	cols := `SELECT a.attname AS "Column", pg_catalog.format_type(a.atttypid, a.atttypmod) AS "Type",
  CASE WHEN a.attnotnull THEN 'not null' ELSE '' END AS "Nullable",
  COALESCE((SELECT pg_catalog.pg_get_expr(d.adbin, d.adrelid) FROM pg_catalog.pg_attrdef d
    WHERE d.adrelid = a.attrelid AND d.adnum = a.attnum), '') AS "Default"
FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
WHERE c.relname = ` + rel + ` AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum`
	res, err := s.cfg.Client.Query(ctx, cols)
	if err != nil {
		s.printError(cols, err)
		return errPrinted
	}
	if len(res.Rows) == 0 {
		return s.metaError("Did not find any relation named %q.", name)
	}
	fmt.Fprintf(s.cfg.Out, "Table \"public.%s\"\n", name)
	if err := WriteResult(s.cfg.Out, s.format, res); err != nil {
		return err
	}
	idx := `SELECT indexname, indexdef FROM pg_catalog.pg_indexes WHERE tablename = ` + rel + ` ORDER BY indexname`
	ires, err := s.cfg.Client.Query(ctx, idx)
	if err != nil {
		s.printError(idx, err)
		return errPrinted
	}
	if len(ires.Rows) > 0 {
		fmt.Fprintln(s.cfg.Out, "Indexes:")
		for _, r := range ires.Rows {
			def := cellText(r[1])
			if i := strings.Index(def, " USING "); i >= 0 {
				def = strings.TrimSpace(def[i+len(" USING "):])
			}
			fmt.Fprintf(s.cfg.Out, "    %q %s\n", cellText(r[0]), def)
		}
	}
	return nil
}

// metaError prints a backslash command's failure.
func (s *Shell) metaError(format string, args ...any) error {
	fmt.Fprintf(s.cfg.Err, format+"\n", args...)
	return errPrinted
}
