package objstore

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// ErrInvalidKey is wrapped by errors for keys that no backend accepts.
var ErrInvalidKey = errors.New("objstore: invalid key")

// tempPrefix starts the name of every in-flight temporary file of the Local
// backend. Key segments may not start with it, so a temporary file can never
// be mistaken for (or collide with) an object.
const tempPrefix = ".phantom-tmp-"

// ValidateKey reports whether key is a valid object key, answering an error
// wrapping ErrInvalidKey if not. Every backend applies the same rules so that
// a key valid on one backend is valid on all of them:
//   - a key is non-empty, valid UTF-8 and at most 1024 bytes (the S3 limit);
//   - it is relative: it does not start with "/";
//   - its slash-separated segments are non-empty (no "//", no trailing "/")
//     and none is "." or ".." (which would escape or alias a directory);
//   - it contains no NUL or backslash, and no segment starts with the Local
//     backend's temporary-file prefix ".phantom-tmp-".
func ValidateKey(key string) error {
	if key == "" {
		return fmt.Errorf("%w: empty key", ErrInvalidKey)
	}
	if len(key) > 1024 {
		return fmt.Errorf("%w: key is %d bytes, longer than 1024", ErrInvalidKey, len(key))
	}
	if !utf8.ValidString(key) {
		return fmt.Errorf("%w: key %q is not valid UTF-8", ErrInvalidKey, key)
	}
	if strings.HasPrefix(key, "/") {
		return fmt.Errorf("%w: key %q is absolute", ErrInvalidKey, key)
	}
	if strings.ContainsAny(key, "\x00\\") {
		return fmt.Errorf("%w: key %q contains a NUL or backslash", ErrInvalidKey, key)
	}
	for seg := range strings.SplitSeq(key, "/") {
		switch {
		case seg == "":
			return fmt.Errorf("%w: key %q has an empty segment", ErrInvalidKey, key)
		case seg == "." || seg == "..":
			return fmt.Errorf("%w: key %q has a %q segment", ErrInvalidKey, key, seg)
		case strings.HasPrefix(seg, tempPrefix):
			return fmt.Errorf("%w: key %q has a segment starting with the reserved %q", ErrInvalidKey, key, tempPrefix)
		}
	}
	return nil
}
