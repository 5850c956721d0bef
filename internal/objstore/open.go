package objstore

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// Open builds a Store from a URL. The accepted forms are:
//
//	/abs/dir or rel/dir      a Local store in that directory (created if needed)
//	file:///abs/dir          a Local store in /abs/dir (host must be empty or "localhost")
//	s3://bucket[/prefix][?param=value&...]
//	                         an S3 store; prefix becomes S3Config.Prefix
//
// Query parameters of the s3 form (all optional; unknown ones are an error so
// that typos do not pass silently):
//
//	endpoint=host:port   S3Config.Endpoint (default s3.amazonaws.com)
//	region=name          S3Config.Region (default: discovered)
//	tls=true|false       S3Config.UseTLS (default true)
//	path_style=true|false S3Config.PathStyle (default false)
//	create_bucket=true|false S3Config.CreateBucket (default false)
//	access_key=, secret_key=, session_token=
//	                     static credentials; without them credentials come
//	                     from AWS_* then MINIO_* environment variables
//
// Example for a local MinIO:
//
//	s3://phantom/pages?endpoint=127.0.0.1:9000&tls=false&path_style=true&create_bucket=true
func Open(ctx context.Context, rawURL string) (Store, error) {
	if rawURL == "" {
		return nil, errors.New("objstore: open: empty URL")
	}
	scheme, _, hasScheme := strings.Cut(rawURL, "://")
	if !hasScheme {
		return NewLocal(rawURL)
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		// url.Error repeats the URL, which may hold a secret key.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("objstore: open: parse %s URL: %w", scheme, err)
	}
	switch strings.ToLower(scheme) {
	case "file":
		if u.Host != "" && u.Host != "localhost" {
			return nil, fmt.Errorf("objstore: open %q: file URL host must be empty or localhost (use file:///abs/dir)", rawURL)
		}
		if u.Path == "" || u.RawQuery != "" {
			return nil, fmt.Errorf("objstore: open %q: file URL needs an absolute path and no query", rawURL)
		}
		return NewLocal(u.Path)
	case "s3":
		cfg, err := s3ConfigFromURL(u)
		if err != nil {
			return nil, fmt.Errorf("objstore: open %q: %w", redact(u), err)
		}
		return NewS3(ctx, cfg)
	default:
		return nil, fmt.Errorf("objstore: open %q: unsupported scheme %q (want file or s3)", redact(u), scheme)
	}
}

// s3ConfigFromURL parses the s3:// form documented on Open.
func s3ConfigFromURL(u *url.URL) (S3Config, error) {
	cfg := S3Config{
		Bucket: u.Host,
		Prefix: strings.Trim(u.Path, "/"),
		UseTLS: true,
	}
	if cfg.Bucket == "" {
		return S3Config{}, errors.New("s3 URL needs a bucket: s3://bucket/prefix")
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return S3Config{}, fmt.Errorf("query: %w", err)
	}
	for name, vals := range q {
		if len(vals) != 1 {
			return S3Config{}, fmt.Errorf("query parameter %q given %d times", name, len(vals))
		}
		v := vals[0]
		switch name {
		case "endpoint":
			cfg.Endpoint = v
		case "region":
			cfg.Region = v
		case "access_key":
			cfg.AccessKey = v
		case "secret_key":
			cfg.SecretKey = v
		case "session_token":
			cfg.SessionToken = v
		case "tls", "path_style", "create_bucket":
			b, err := strconv.ParseBool(v)
			if err != nil {
				return S3Config{}, fmt.Errorf("query parameter %s=%q: want true or false", name, v)
			}
			switch name {
			case "tls":
				cfg.UseTLS = b
			case "path_style":
				cfg.PathStyle = b
			default:
				cfg.CreateBucket = b
			}
		default:
			return S3Config{}, fmt.Errorf("unknown query parameter %q", name)
		}
	}
	return cfg, nil
}

// redact answers u as a string with secret query parameters masked, for
// error messages.
func redact(u *url.URL) string {
	c := *u
	q := c.Query()
	for _, k := range []string{"secret_key", "session_token"} {
		if q.Has(k) {
			q.Set(k, "xxxxx")
		}
	}
	c.RawQuery = q.Encode()
	return c.String()
}
