package controlplane

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
)

// ErrUnauthenticated is wrapped when a credential (an API key, the admin
// token) is missing, malformed, unknown or revoked.
var ErrUnauthenticated = errors.New("controlplane: unauthenticated")

// APIKeyPrefix starts every API key: phk_<id>_<secret>, where id is 16 hex
// digits naming the key and secret is 64 hex digits (32 random bytes).
const APIKeyPrefix = "phk_"

// APIKey describes an API key; the secret is shown once, at creation, and
// never stored.
type APIKey struct {
	// ID names the key in listings and revocation; it is part of the key
	// itself, not a secret.
	ID     string `json:"id"`
	Tenant string `json:"tenant"`
	// Database limits the key to one database of the tenant; "" allows
	// every database of the tenant.
	Database string `json:"database,omitempty"`
	// ReadOnly keys may only read: writes answer SQLSTATE 25006.
	ReadOnly  bool      `json:"read_only"`
	CreatedAt time.Time `json:"created_at"`
}

// storedKey is an APIKey with the digest of its secret.
type storedKey struct {
	APIKey
	// Hash is the hex SHA-256 of the 32-byte secret. A plain hash (not
	// bcrypt or argon2) is right here: the secret is 256 bits from
	// crypto/rand, so there is no dictionary to attack and a slow hash would
	// only cost CPU on every verification.
	Hash string `json:"sha256"`
}

// NewAPIKey is the answer to creating a key: its description and the
// secret key, which is not retrievable later.
type NewAPIKey struct {
	APIKey
	Key string `json:"key"`
}

// CreateAPIKey issues a key for tenant, limited to database when it is not
// empty.
func (s *Service) CreateAPIKey(tenant, database string, readOnly bool) (NewAPIKey, error) {
	if database != "" {
		if _, err := s.Database(tenant, database); err != nil {
			return NewAPIKey{}, err
		}
	} else if err := s.tenantExists(tenant); err != nil {
		return NewAPIKey{}, err
	}
	var id [8]byte
	var secret [32]byte
	_, _ = rand.Read(id[:]) // crypto/rand.Read never fails
	_, _ = rand.Read(secret[:])
	sum := sha256.Sum256(secret[:])
	k := storedKey{
		APIKey: APIKey{ID: hex.EncodeToString(id[:]), Tenant: tenant, Database: database, ReadOnly: readOnly,
			CreatedAt: s.cfg.Now().UTC()},
		Hash: hex.EncodeToString(sum[:]),
	}
	if _, err := s.propose(&command{Op: opCreateAPIKey, Key: &k}); err != nil {
		return NewAPIKey{}, err
	}
	s.cfg.Logger.Info("api key created", "tenant", tenant, "database", database, "id", k.ID, "read_only", readOnly)
	return NewAPIKey{APIKey: k.APIKey, Key: APIKeyPrefix + k.ID + "_" + hex.EncodeToString(secret[:])}, nil
}

// APIKeys lists the keys of tenant, without secrets.
func (s *Service) APIKeys(tenant string) ([]APIKey, error) {
	if err := s.tenantExists(tenant); err != nil {
		return nil, err
	}
	keys := []APIKey{}
	s.fsm.read(func(_ *state, a *authState) {
		for _, k := range a.APIKeys {
			if k.Tenant == tenant {
				keys = append(keys, k.APIKey)
			}
		}
	})
	return keys, nil
}

// RevokeAPIKey deletes key id of tenant; it stops verifying at once here
// and, on compute nodes, when their cache of it expires.
func (s *Service) RevokeAPIKey(tenant, id string) error {
	if _, err := s.propose(&command{Op: opRevokeAPIKey, Tenant: tenant, ID: id}); err != nil {
		return err
	}
	s.cfg.Logger.Info("api key revoked", "tenant", tenant, "id", id)
	return nil
}

// VerifyAPIKey returns the description of key when it is a live key; any
// other key (malformed, unknown, revoked, wrong secret) wraps
// ErrUnauthenticated without saying which.
func (s *Service) VerifyAPIKey(key string) (APIKey, error) {
	id, secret, ok := parseAPIKey(key)
	if !ok {
		return APIKey{}, fmt.Errorf("%w: malformed api key", ErrUnauthenticated)
	}
	sum := sha256.Sum256(secret)
	var found *storedKey
	s.fsm.read(func(_ *state, a *authState) {
		for _, k := range a.APIKeys {
			if k.ID == id {
				found = &k
				break
			}
		}
	})
	if found != nil {
		want, err := hex.DecodeString(found.Hash)
		if err == nil && subtle.ConstantTimeCompare(want, sum[:]) == 1 {
			return found.APIKey, nil
		}
	}
	return APIKey{}, fmt.Errorf("%w: unknown or revoked api key", ErrUnauthenticated)
}

// parseAPIKey splits phk_<16 hex>_<64 hex> into its id and secret bytes.
func parseAPIKey(key string) (id string, secret []byte, ok bool) {
	rest, found := strings.CutPrefix(key, APIKeyPrefix)
	if !found {
		return "", nil, false
	}
	id, sec, found := strings.Cut(rest, "_")
	if !found || len(id) != 16 || len(sec) != 64 {
		return "", nil, false
	}
	if _, err := hex.DecodeString(id); err != nil {
		return "", nil, false
	}
	secret, err := hex.DecodeString(sec)
	if err != nil {
		return "", nil, false
	}
	return id, secret, true
}

func (s *Service) tenantExists(tenant string) error {
	var ok bool
	s.fsm.read(func(st *state, _ *authState) { _, ok = st.tenant(tenant) })
	if !ok {
		return fmt.Errorf("%w: tenant %q", ErrNotFound, tenant)
	}
	return nil
}
