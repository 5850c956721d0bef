// Package parse is the first stage of the query path: it turns SQL text into
// PostgreSQL parse trees with pg_query (the PostgreSQL grammar itself) and
// maps syntax errors to SQLSTATE 42601 with the position PostgreSQL reports.
package parse

import (
	"errors"
	"unicode/utf8"

	pg_query "github.com/pganalyze/pg_query_go/v6"
	"github.com/pganalyze/pg_query_go/v6/parser"

	"github.com/phantom-db/phantom/compute/sql/sqlerr"
)

// Statement is one statement of a query string.
type Statement struct {
	// AST is the statement's parse tree.
	AST *pg_query.Node
	// Text is the statement's own SQL text.
	Text string
}

// Parse splits query into statements and parses them. An empty query (or
// only comments and semicolons) yields no statements. A syntax error answers
// an *sqlerr.Error with code 42601 and the 1-based character position.
// The statements of recent query texts are cached and shared: callers must
// not modify the trees.
func Parse(query string) ([]Statement, error) {
	if stmts, ok := cache.get(query); ok {
		return stmts, nil
	}
	stmts, err := parse(query)
	if err == nil {
		cache.put(query, stmts)
	}
	return stmts, err
}

func parse(query string) ([]Statement, error) {
	tree, err := pg_query.Parse(query)
	if err != nil {
		var pe *parser.Error
		if errors.As(err, &pe) {
			return nil, &sqlerr.Error{Code: sqlerr.CodeSyntaxError, Message: pe.Message, Position: pe.Cursorpos}
		}
		return nil, &sqlerr.Error{Code: sqlerr.CodeSyntaxError, Message: err.Error()}
	}
	out := make([]Statement, 0, len(tree.Stmts))
	for _, raw := range tree.Stmts {
		start := int(raw.StmtLocation)
		end := len(query)
		if raw.StmtLen > 0 {
			end = start + int(raw.StmtLen)
		}
		text := ""
		if start >= 0 && start <= end && end <= len(query) {
			text = query[start:end]
		}
		out = append(out, Statement{AST: raw.Stmt, Text: text})
	}
	return out, nil
}

// Position converts a 0-based byte offset reported in a parse tree
// ("location") into the 1-based character position clients expect; it
// returns 0 for an unknown location (-1).
func Position(query string, location int32) int {
	if location < 0 || int(location) > len(query) {
		return 0
	}
	return utf8.RuneCountInString(query[:location]) + 1
}
