package sql

import (
	"strconv"
	"strings"
	"time"

	pg_query "github.com/pganalyze/pg_query_go/v6"

	"github.com/phantom-db/phantom/compute/sql/sqlerr"
	"github.com/phantom-db/phantom/compute/sql/types"
)

// Isolation is a transaction isolation level.
type Isolation uint8

// Isolation levels. READ UNCOMMITTED is accepted and runs as READ
// COMMITTED, as in PostgreSQL.
const (
	// ReadCommitted takes a fresh snapshot for every statement (default).
	ReadCommitted Isolation = iota
	// RepeatableRead is snapshot isolation: one snapshot for the whole
	// transaction, first committer wins on write-write conflicts.
	RepeatableRead
	// Serializable is snapshot isolation plus validation of every range the
	// transaction read at commit.
	Serializable
)

// String returns the level as PostgreSQL spells it in SHOW.
func (i Isolation) String() string {
	switch i {
	case RepeatableRead:
		return "repeatable read"
	case Serializable:
		return "serializable"
	}
	return "read committed"
}

// ParseIsolation parses a level name ("read committed", "REPEATABLE READ",
// "serializable", "read uncommitted"); 22023 for anything else.
func ParseIsolation(s string) (Isolation, error) {
	switch strings.Join(strings.Fields(strings.ToLower(s)), " ") {
	case "read committed", "read uncommitted", "default", "":
		return ReadCommitted, nil
	case "repeatable read":
		return RepeatableRead, nil
	case "serializable":
		return Serializable, nil
	}
	return 0, sqlerr.New(sqlerr.CodeInvalidParameterValue, "invalid value for parameter \"transaction_isolation\": %q", s).
		WithHint("Available values: serializable, repeatable read, read committed, read uncommitted.")
}

// settingDefaults are the session settings SET and SHOW know, with their
// defaults. Only the transaction settings change behaviour here;
// statement_timeout is stored for the caller to honour; the others are
// accepted because drivers send them.
var settingDefaults = map[string]string{
	"application_name":              "",
	"client_encoding":               "UTF8",
	"datestyle":                     "ISO, MDY",
	"default_transaction_isolation": "read committed",
	"default_transaction_read_only": "off",
	"extra_float_digits":            "1",
	"intervalstyle":                 "postgres",
	settingAsOf:                     "",
	settingBranch:                   "",
	"search_path":                   `"$user", public`,
	"standard_conforming_strings":   "on",
	"statement_timeout":             "0",
	"timezone":                      "UTC",
}

// readOnlySettings can be shown but not set.
var readOnlySettings = map[string]string{
	"server_version":    "17.0",
	"server_encoding":   "UTF8",
	"integer_datetimes": "on",
}

// setting returns the current value of a known setting.
func (s *Session) setting(name string) string {
	if v, ok := s.settings[name]; ok {
		return v
	}
	return settingDefaults[name]
}

// Setting returns the current value of a session setting (names are case
// insensitive) and whether the setting exists.
func (s *Session) Setting(name string) (string, bool) {
	name = strings.ToLower(name)
	if v, ok := readOnlySettings[name]; ok {
		return v, true
	}
	switch name {
	case "transaction_isolation":
		if s.tx != nil {
			return s.tx.iso.String(), true
		}
		return s.setting("default_transaction_isolation"), true
	case "transaction_read_only":
		ro := s.setting("default_transaction_read_only") == "on"
		if s.tx != nil {
			ro = s.tx.readOnly
		}
		return boolSetting(ro), true
	case settingLastCommitTS:
		if s.lastCommitTS == 0 {
			return "", true
		}
		return strconv.FormatUint(s.lastCommitTS, 10), true
	}
	if _, ok := settingDefaults[name]; !ok {
		return "", false
	}
	return s.setting(name), true
}

// StatementTimeout returns statement_timeout; 0 means none. A bare number
// is milliseconds; units ms, s, min, h and d are accepted.
func (s *Session) StatementTimeout() time.Duration {
	d, _ := parseTimeout(s.setting("statement_timeout"))
	return d
}

func parseTimeout(v string) (time.Duration, bool) {
	v = strings.TrimSpace(strings.ToLower(v))
	num := strings.TrimRightFunc(v, func(r rune) bool { return r >= 'a' && r <= 'z' || r == ' ' })
	n, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
	if err != nil || n < 0 {
		return 0, false
	}
	unit := map[string]time.Duration{"": time.Millisecond, "ms": time.Millisecond, "s": time.Second,
		"min": time.Minute, "h": time.Hour, "d": 24 * time.Hour}
	u, ok := unit[strings.TrimSpace(v[len(num):])]
	if !ok {
		return 0, false
	}
	return time.Duration(n * float64(u)), true
}

func boolSetting(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

// set runs SET, SET TRANSACTION, SET SESSION CHARACTERISTICS and RESET.
// SET LOCAL is treated as SET (settings are not rolled back with the
// transaction).
func (s *Session) set(v *pg_query.VariableSetStmt) (*Result, error) {
	done := &Result{Command: "SET"}
	name := strings.ToLower(v.Name)
	switch v.Kind {
	case pg_query.VariableSetKind_VAR_SET_MULTI:
		switch name {
		case "transaction":
			return done, s.setTransaction(v.Args)
		case "session characteristics":
			tx := &txn{}
			if err := applyTxnOptions(tx, v.Args); err != nil {
				return nil, err
			}
			s.store("default_transaction_isolation", tx.iso.String())
			s.store("default_transaction_read_only", boolSetting(tx.readOnly))
			return done, nil
		}
		return nil, sqlerr.NotSupported("SET " + v.Name)
	case pg_query.VariableSetKind_VAR_RESET_ALL:
		if err := s.checkAsOfChange(); err != nil && s.setting(settingAsOf) != "" {
			return nil, err
		}
		if err := s.checkBranchChange(); err != nil && s.setting(settingBranch) != "" {
			return nil, err
		}
		s.settings = nil
		return &Result{Command: "RESET"}, nil
	case pg_query.VariableSetKind_VAR_RESET, pg_query.VariableSetKind_VAR_SET_DEFAULT:
		if err := s.checkSettable(name); err != nil {
			return nil, err
		}
		if name == settingBranch {
			if err := s.checkBranchChange(); err != nil {
				return nil, err
			}
		}
		if name == settingAsOf {
			if err := s.checkAsOfChange(); err != nil {
				return nil, err
			}
		}
		if name != "transaction_isolation" && name != "transaction_read_only" {
			delete(s.settings, name)
		}
		if v.Kind == pg_query.VariableSetKind_VAR_RESET {
			return &Result{Command: "RESET"}, nil
		}
		return done, nil
	case pg_query.VariableSetKind_VAR_SET_VALUE:
	default:
		return nil, sqlerr.NotSupported("SET " + v.Name)
	}
	if err := s.checkSettable(name); err != nil {
		return nil, err
	}
	vals := make([]string, len(v.Args))
	for i, a := range v.Args {
		vals[i] = constText(a)
	}
	val := strings.Join(vals, ", ")
	switch name {
	case "transaction_isolation":
		return done, s.setTransaction([]*pg_query.Node{defElem("transaction_isolation", val)})
	case "transaction_read_only":
		return done, s.setTransaction([]*pg_query.Node{defElem("transaction_read_only", boolArg(val))})
	case "default_transaction_isolation":
		iso, err := ParseIsolation(val)
		if err != nil {
			return nil, err
		}
		val = iso.String()
	case "default_transaction_read_only":
		val = boolSetting(boolArg(val) == "1")
	case "client_encoding":
		switch strings.ToUpper(strings.ReplaceAll(val, "-", "")) {
		case "UTF8", "UNICODE":
			val = "UTF8"
		default:
			return nil, sqlerr.NotSupported("client_encoding " + val).WithHint("only UTF8 is supported")
		}
	case settingBranch:
		if err := s.checkBranchChange(); err != nil {
			return nil, err
		}
	case settingAsOf:
		if err := s.checkAsOfChange(); err != nil {
			return nil, err
		}
		if val != "" {
			if _, err := ParseAsOf(val); err != nil {
				return nil, err
			}
		}
	case "statement_timeout":
		if _, ok := parseTimeout(val); !ok {
			return nil, sqlerr.New(sqlerr.CodeInvalidParameterValue, "invalid value for parameter \"statement_timeout\": %q", val)
		}
	}
	s.store(name, val)
	return done, nil
}

// checkSettable answers 42704 for unknown settings and 55P02 for read-only
// ones.
func (s *Session) checkSettable(name string) error {
	if _, ok := readOnlySettings[name]; ok || name == settingLastCommitTS {
		return sqlerr.New(sqlerr.CodeCantChangeRuntimeParam, "parameter %q cannot be changed", name)
	}
	if _, ok := settingDefaults[name]; !ok && name != "transaction_isolation" && name != "transaction_read_only" {
		return sqlerr.New(sqlerr.CodeUndefinedObject, "unrecognized configuration parameter %q", name)
	}
	return nil
}

func (s *Session) store(name, val string) {
	if s.settings == nil {
		s.settings = make(map[string]string)
	}
	s.settings[name] = val
}

// checkAsOfChange answers 25001 when phantom.as_of would change inside a
// transaction block that already took its snapshot: a block reads at one
// point in time, or, READ COMMITTED, at statement snapshots it has started
// taking.
func (s *Session) checkAsOfChange() error {
	if s.tx != nil && s.tx.started {
		return sqlerr.New(sqlerr.CodeActiveSQLTransaction, "%s must be set before the first query of a transaction block", settingAsOf)
	}
	return nil
}

// setTransaction changes the open transaction's characteristics; outside a
// block PostgreSQL only warns, so this is a no-op there.
func (s *Session) setTransaction(opts []*pg_query.Node) error {
	if s.tx == nil {
		return nil
	}
	if s.tx.started {
		return sqlerr.New(sqlerr.CodeActiveSQLTransaction, "SET TRANSACTION ISOLATION LEVEL must be called before any query")
	}
	return applyTxnOptions(s.tx, opts)
}

// show runs SHOW name: one row, one text column named after the setting.
func (s *Session) show(v *pg_query.VariableShowStmt) (*Result, error) {
	name := strings.ToLower(v.Name)
	if name == "all" {
		return nil, sqlerr.NotSupported("SHOW ALL")
	}
	val, ok := s.Setting(name)
	if !ok {
		return nil, sqlerr.New(sqlerr.CodeUndefinedObject, "unrecognized configuration parameter %q", name)
	}
	res := &Result{Columns: []Column{{Name: name, Type: types.Text.String()}}, Command: "SHOW", RowCount: 1}
	b, err := textBatch(s.e.cfg.Allocator, name, val)
	if err != nil {
		return nil, err
	}
	res.Batches = append(res.Batches, b)
	return res, nil
}

// constText renders a SET argument (string, integer, float or boolean
// constant; a bare word arrives as a string).
func constText(n *pg_query.Node) string {
	c := n.GetAConst()
	if c == nil {
		if tc := n.GetTypeCast(); tc != nil {
			return constText(tc.Arg)
		}
		return ""
	}
	switch v := c.Val.(type) {
	case *pg_query.A_Const_Sval:
		return v.Sval.Sval
	case *pg_query.A_Const_Ival:
		return strconv.Itoa(int(v.Ival.Ival))
	case *pg_query.A_Const_Fval:
		return v.Fval.Fval
	case *pg_query.A_Const_Boolval:
		return boolSetting(v.Boolval.Boolval)
	}
	return ""
}

// boolArg maps PostgreSQL's boolean spellings to "1" or "0".
func boolArg(v string) string {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "on", "true", "yes", "1", "t", "y":
		return "1"
	}
	return "0"
}

func defElem(name, val string) *pg_query.Node {
	return &pg_query.Node{Node: &pg_query.Node_DefElem{DefElem: &pg_query.DefElem{
		Defname: name, Arg: pg_query.MakeAConstStrNode(val, -1), Location: -1}}}
}

func trimKind(k string) string { return strings.TrimPrefix(k, "TRANS_STMT_") }
