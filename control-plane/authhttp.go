package controlplane

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"
)

// registerAuthRoutes adds the credential endpoints:
//
//	POST   /v1/tenants/{tenant}/api-keys          {"database", "read_only"} -> the key, once
//	GET    /v1/tenants/{tenant}/api-keys          -> descriptions, no secrets
//	DELETE /v1/tenants/{tenant}/api-keys/{id}
//	POST   /v1/auth/verify                        {"key"} -> the key's description, or 401
//	POST   /v1/tenants/{tenant}/roles             {"name", "password"}
//	GET    /v1/tenants/{tenant}/roles
//	DELETE /v1/tenants/{tenant}/roles/{name}
//	GET    /v1/tenants/{tenant}/roles/{name}/scram -> the SCRAM-SHA-256 verifier
func (s *Service) registerAuthRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST /v1/tenants/{tenant}/api-keys", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Database string `json:"database"`
			ReadOnly bool   `json:"read_only"`
		}
		if !s.decode(w, r, &req) {
			return
		}
		k, err := s.CreateAPIKey(r.PathValue("tenant"), req.Database, req.ReadOnly)
		if err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusCreated, k)
	})
	mux.HandleFunc("GET /v1/tenants/{tenant}/api-keys", func(w http.ResponseWriter, r *http.Request) {
		keys, err := s.APIKeys(r.PathValue("tenant"))
		if err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"api_keys": keys})
	})
	mux.HandleFunc("DELETE /v1/tenants/{tenant}/api-keys/{id}", func(w http.ResponseWriter, r *http.Request) {
		if err := s.RevokeAPIKey(r.PathValue("tenant"), r.PathValue("id")); err != nil {
			writeError(w, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST /v1/auth/verify", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Key string `json:"key"`
		}
		if !s.decode(w, r, &req) {
			return
		}
		k, err := s.VerifyAPIKey(req.Key)
		if err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, k)
	})
	mux.HandleFunc("POST /v1/tenants/{tenant}/roles", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Name     string `json:"name"`
			Password string `json:"password"`
		}
		if !s.decode(w, r, &req) {
			return
		}
		role, err := s.CreateRole(r.PathValue("tenant"), req.Name, req.Password)
		if err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusCreated, role)
	})
	mux.HandleFunc("GET /v1/tenants/{tenant}/roles", func(w http.ResponseWriter, r *http.Request) {
		roles, err := s.Roles(r.PathValue("tenant"))
		if err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"roles": roles})
	})
	mux.HandleFunc("DELETE /v1/tenants/{tenant}/roles/{name}", func(w http.ResponseWriter, r *http.Request) {
		if err := s.DropRole(r.PathValue("tenant"), r.PathValue("name")); err != nil {
			writeError(w, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /v1/tenants/{tenant}/roles/{name}/scram", func(w http.ResponseWriter, r *http.Request) {
		v, err := s.RoleVerifier(r.PathValue("tenant"), r.PathValue("name"))
		if err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, v)
	})
}

// requireAdmin lets through /healthz and requests bearing the admin token;
// everything else answers 401. The token is compared as SHA-256 digests in
// constant time, so neither its content nor its length leaks through timing.
func (s *Service) requireAdmin(next http.Handler) http.Handler {
	want := sha256.Sum256([]byte(s.cfg.AdminToken))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" {
			next.ServeHTTP(w, r)
			return
		}
		tok, ok := bearer(r)
		got := sha256.Sum256([]byte(tok))
		if !ok || subtle.ConstantTimeCompare(want[:], got[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="phantom-control-plane"`)
			writeJSON(w, http.StatusUnauthorized, errorBody("unauthenticated",
				"the control plane API requires the admin token: Authorization: Bearer <token>"))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// bearer returns the token of an "Authorization: Bearer <token>" header.
func bearer(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	return tok, tok != ""
}
