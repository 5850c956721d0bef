package objstore_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/phantom-db/phantom/internal/objstore"
)

func contextWithCancel(t *testing.T) (context.Context, context.CancelFunc) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	return ctx, cancel
}

func TestValidateKey(t *testing.T) {
	valid := []string{
		"a", "a/b/c", "tenant-1/db.main/000001.layer", "..a", "a..", "a/..b/c",
		"with space", "ünïcode/ключ", ".hidden", strings.Repeat("k", 1024),
	}
	for _, k := range valid {
		if err := objstore.ValidateKey(k); err != nil {
			t.Errorf("ValidateKey(%q) = %v, want nil", k, err)
		}
	}
	invalid := map[string]string{
		"":                        "empty",
		"/abs":                    "absolute",
		"/":                       "absolute",
		"..":                      `".."`,
		"a/../b":                  `".."`,
		"a/..":                    `".."`,
		"../a":                    `".."`,
		".":                       `"."`,
		"a/./b":                   `"."`,
		"a//b":                    "empty segment",
		"a/":                      "empty segment",
		"a\\b":                    "backslash",
		"a\x00b":                  "NUL",
		"\xff":                    "UTF-8",
		"x/.phantom-tmp-1":        "reserved",
		strings.Repeat("k", 1025): "longer than 1024",
	}
	for k, want := range invalid {
		err := objstore.ValidateKey(k)
		if !errors.Is(err, objstore.ErrInvalidKey) {
			t.Errorf("ValidateKey(%q) = %v, want ErrInvalidKey", k, err)
			continue
		}
		if !strings.Contains(err.Error(), want) {
			t.Errorf("ValidateKey(%q) = %q, want it to mention %q", k, err, want)
		}
	}
}
