package httpapi

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"

	"github.com/phantom-db/phantom/compute/sql/sqlerr"
)

// Branches: "branch" in a request (POST /v1/sql, /v1/sql/batch) or when a
// session opens (POST /v1/sessions) runs the statements on that branch of
// the database, through the session setting phantom.branch. "" and "main"
// are the database itself. An unknown branch answers 404 with SQLSTATE
// 3D000.

// branchNameRE is the control plane's name rule; no other name can exist.
var branchNameRE = regexp.MustCompile(`^[a-z_][a-z0-9_-]{0,62}$`)

// errNoBranch answers a branch that does not exist.
func errNoBranch(name string) error {
	return &sqlerr.Error{Code: "3D000", Message: fmt.Sprintf("branch %q does not exist", name),
		Hint: "branch names match " + branchNameRE.String()}
}

// checkBranch answers a malformed "branch" (which no branch can have).
func (s *Server) checkBranch(w http.ResponseWriter, name string) bool {
	if name == "" {
		return true
	}
	if !branchNameRE.MatchString(name) {
		writeError(w, http.StatusNotFound, errNoBranch(name))
		return false
	}
	return s.sessionsEnabled(w)
}

// useBranch points sess at branch name (checked by checkBranch) and checks
// that the branch exists at a fresh snapshot.
func useBranch(ctx context.Context, sess Session, name string) error {
	if name == "" {
		return nil
	}
	// The name matches branchNameRE: no quote can end the literal.
	res, err := sess.Execute(ctx, "SET phantom.branch = '"+name+"'", nil)
	releaseAll(res)
	return err
}

// SessionRequest is the optional body of POST /v1/sessions.
type SessionRequest struct {
	// Branch runs the session's statements on this branch of the
	// database ("" or "main": the database itself).
	Branch string `json:"branch,omitempty"`
}

// decodeSessionRequest reads the optional body of POST /v1/sessions; an
// empty body is the zero request.
func (s *Server) decodeSessionRequest(w http.ResponseWriter, r *http.Request) (SessionRequest, bool) {
	var req SessionRequest
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes))
	if err != nil {
		writeError(w, http.StatusRequestEntityTooLarge, &sqlerr.Error{Code: "54000", Message: fmt.Sprintf("request body exceeds %d bytes", s.cfg.MaxBodyBytes)})
		return req, false
	}
	if strings.TrimSpace(string(body)) == "" {
		return req, true
	}
	r.Body = io.NopCloser(strings.NewReader(string(body)))
	return req, s.decode(w, r, &req)
}

// openSessionOn opens a session of owner (an API key id) on a branch; a
// branch that does not exist closes it again and answers 3D000.
func (s *Server) openSessionOn(ctx context.Context, owner string, newSession func() Session, branch string) (string, error) {
	id, err := s.sessions.open(owner, newSession)
	if err != nil || branch == "" {
		return id, err
	}
	res, err := s.sessions.execute(ctx, owner, id, "SET phantom.branch = '"+branch+"'; SELECT 1", nil)
	releaseAll(res)
	if err != nil {
		s.sessions.remove(owner, id)
		return "", err
	}
	return id, nil
}
