package sql

import (
	"context"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/phantom-db/phantom/compute/sql/sqlerr"
	"github.com/phantom-db/phantom/compute/storage"
	"github.com/phantom-db/phantom/internal/keys"
	"github.com/phantom-db/phantom/internal/timeline"
)

// Branches: while the session setting phantom.branch names a branch of the
// engine's database, statements run on the branch's timeline id instead of
// Config.DatabaseID: every key they read and write is under /db/<branch
// id>/, and the page server resolves what the branch has not written in its
// parent below the fork timestamp. The name is resolved at each
// statement's snapshot by reading the branch record the control plane
// committed (internal/timeline), so a branch is visible from its creation
// on, also to time travel.

const (
	// settingBranch names the branch statements run on; "" or "main" is
	// the database itself.
	settingBranch = "phantom.branch"
	// mainBranch names the database itself.
	mainBranch = "main"
	// codeInvalidCatalogName is SQLSTATE 3D000, PostgreSQL's answer for a
	// database that does not exist.
	codeInvalidCatalogName = "3D000"
)

// databaseID returns the timeline id the session's statements run on at
// snap: Config.DatabaseID, or the id of the branch phantom.branch names
// (3D000 when the database has no such branch at snap).
func (s *Session) databaseID(ctx context.Context, snap storage.Snapshot) (uint64, error) {
	name := s.setting(settingBranch)
	if name == "" || name == mainBranch {
		return s.e.cfg.DatabaseID, nil
	}
	key := keys.BranchKey(s.e.cfg.DatabaseID, name)
	var val []byte
	err := s.e.cfg.KV.Scan(ctx, snap, key, keys.Next(key), 1, func(b arrow.RecordBatch) error {
		if b.NumRows() > 0 {
			val = append([]byte(nil), b.Column(1).(*array.Binary).Value(0)...)
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("sql: resolve branch %q: %w", name, err)
	}
	if val == nil {
		return 0, sqlerr.New(codeInvalidCatalogName, "branch %q does not exist", name).
			WithHint("create it through the control plane: POST /v1/tenants/{tenant}/databases/{database}/branches")
	}
	b, err := timeline.DecodeBranch(val)
	if err != nil {
		return 0, fmt.Errorf("sql: resolve branch %q: %w", name, err)
	}
	return b.ID, nil
}

// checkBranchChange answers 25001 when phantom.branch would change inside a
// transaction block that already ran a statement: a block runs on one
// branch.
func (s *Session) checkBranchChange() error {
	if s.tx != nil && s.tx.started {
		return sqlerr.New(sqlerr.CodeActiveSQLTransaction, "%s must be set before the first query of a transaction block", settingBranch)
	}
	return nil
}

// Describe is Engine.Describe on the session's branch.
func (s *Session) Describe(ctx context.Context, query string, known []string) (*Description, error) {
	return s.e.describe(ctx, query, known, s.databaseID)
}
