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
	if _, err := s.propose(&command{Op: opCreateRole, Role: &r}); err != nil {
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
	roles := []Role{}
	s.fsm.read(func(_ *state, a *authState) {
		for _, r := range a.Roles {
			if r.Tenant == tenant {
				roles = append(roles, r.Role)
			}
		}
	})
	return roles, nil
}

// RoleVerifier returns the SCRAM verifier of role name in tenant.
func (s *Service) RoleVerifier(tenant, name string) (SCRAMVerifier, error) {
	var v *SCRAMVerifier
	s.fsm.read(func(_ *state, a *authState) {
		for _, r := range a.Roles {
			if r.Tenant == tenant && r.Name == name {
				v = &r.Verifier
				break
			}
		}
	})
	if v != nil {
		return *v, nil
	}
	return SCRAMVerifier{}, fmt.Errorf("%w: role %q in tenant %q", ErrNotFound, name, tenant)
}

// DropRole deletes role name of tenant.
func (s *Service) DropRole(tenant, name string) error {
	_, err := s.propose(&command{Op: opDropRole, Tenant: tenant, Name: name})
	return err
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
