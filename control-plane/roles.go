package controlplane

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"time"

	"github.com/xdg-go/scram"
)

// scramIterations is the PBKDF2 iteration count of new verifiers, the
// PostgreSQL default (scram_iterations = 4096).
const scramIterations = 4096

// Role is a SQL role of a tenant: a name clients of the PostgreSQL protocol
// log in as with SCRAM-SHA-256.
type Role struct {
	Tenant    string    `json:"tenant"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
}

// SCRAMVerifier is what a server needs to check a SCRAM-SHA-256 login and
// prove itself to the client (RFC 5802/7677); the password cannot be
// recovered from it except by guessing. Byte fields are standard base64.
type SCRAMVerifier struct {
	Salt       string `json:"salt"`
	Iterations int    `json:"iterations"`
	StoredKey  string `json:"stored_key"`
	ServerKey  string `json:"server_key"`
}

type storedRole struct {
	Role
	Verifier SCRAMVerifier `json:"scram_sha_256"`
}

// CreateRole registers role name in tenant with password, storing only
// its SCRAM-SHA-256 verifier.
func (s *Service) CreateRole(tenant, name, password string) (Role, error) {
	if err := validName("role", name); err != nil {
		return Role{}, err
	}
	if password == "" {
		return Role{}, fmt.Errorf("%w: password must not be empty", ErrInvalid)
	}
	if err := s.tenantExists(tenant); err != nil {
		return Role{}, err
	}
	v, err := newSCRAMVerifier(name, password)
	if err != nil {
		return Role{}, err
	}
	r := storedRole{Role: Role{Tenant: tenant, Name: name, CreatedAt: s.cfg.Now().UTC()}, Verifier: v}
	a := s.auth
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, old := range a.st.Roles {
		if old.Tenant == tenant && old.Name == name {
			return Role{}, fmt.Errorf("%w: role %q", ErrExists, name)
		}
	}
	next := *a.st
	next.Roles = append(append([]storedRole(nil), a.st.Roles...), r)
	if err := a.commit(&next); err != nil {
		return Role{}, err
	}
	s.cfg.Logger.Info("role created", "tenant", tenant, "role", name)
	return r.Role, nil
}

// Roles lists the roles of tenant.
func (s *Service) Roles(tenant string) ([]Role, error) {
	if err := s.tenantExists(tenant); err != nil {
		return nil, err
	}
	a := s.auth
	a.mu.Lock()
	defer a.mu.Unlock()
	roles := []Role{}
	for _, r := range a.st.Roles {
		if r.Tenant == tenant {
			roles = append(roles, r.Role)
		}
	}
	return roles, nil
}

// RoleVerifier returns the SCRAM verifier of role name in tenant.
func (s *Service) RoleVerifier(tenant, name string) (SCRAMVerifier, error) {
	a := s.auth
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, r := range a.st.Roles {
		if r.Tenant == tenant && r.Name == name {
			return r.Verifier, nil
		}
	}
	return SCRAMVerifier{}, fmt.Errorf("%w: role %q in tenant %q", ErrNotFound, name, tenant)
}

// DropRole deletes role name of tenant.
func (s *Service) DropRole(tenant, name string) error {
	a := s.auth
	a.mu.Lock()
	defer a.mu.Unlock()
	next := *a.st
	next.Roles = nil
	found := false
	for _, r := range a.st.Roles {
		if r.Tenant == tenant && r.Name == name {
			found = true
			continue
		}
		next.Roles = append(next.Roles, r)
	}
	if !found {
		return fmt.Errorf("%w: role %q in tenant %q", ErrNotFound, name, tenant)
	}
	return a.commit(&next)
}

// newSCRAMVerifier derives the SCRAM-SHA-256 verifier of password with a
// fresh 16-byte salt. The password is SASLprep-normalized, as PostgreSQL
// clients normalize it.
func newSCRAMVerifier(name, password string) (SCRAMVerifier, error) {
	client, err := scram.SHA256.NewClient(name, password, "")
	if err != nil {
		return SCRAMVerifier{}, fmt.Errorf("%w: password: %w", ErrInvalid, err)
	}
	var salt [16]byte
	_, _ = rand.Read(salt[:])
	creds := client.GetStoredCredentials(scram.KeyFactors{Salt: string(salt[:]), Iters: scramIterations})
	enc := base64.StdEncoding.EncodeToString
	return SCRAMVerifier{Salt: enc(salt[:]), Iterations: scramIterations,
		StoredKey: enc(creds.StoredKey), ServerKey: enc(creds.ServerKey)}, nil
}
