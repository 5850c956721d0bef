package objstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sort"
	"strings"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/minio/minio-go/v7/pkg/s3utils"
)

// DefaultS3Endpoint is the endpoint S3Config.EnsureDefaults fills in.
const DefaultS3Endpoint = "s3.amazonaws.com"

// DefaultS3MaxRetries is the number of attempts (first try included) minio-go
// makes for one request when S3Config.MaxRetries is zero; it is minio-go's own
// default.
const DefaultS3MaxRetries = 10

// DefaultS3BufferSize is the largest object Put buffers in memory when its
// reader cannot seek, so that minio-go can replay the body on a retry.
const DefaultS3BufferSize = 16 << 20

// ErrBucketNotFound is wrapped by NewS3 when the bucket does not exist and
// S3Config.CreateBucket is false.
var ErrBucketNotFound = errors.New("objstore: bucket not found")

// S3Config configures an S3 store.
//
// Retries: minio-go retries every request itself (see executeMethod in
// minio-go's api.go): network errors, HTTP 408/429/499/500/502/503/504/520 and
// S3 codes such as SlowDown, InternalError and RequestTimeout are retried up
// to MaxRetries attempts with capped exponential backoff and full jitter
// (200ms unit, 1s cap), stopping early when ctx is done. A request body is
// only replayed if it can seek, so Put hands minio-go seekable bodies (see
// S3.Put). This package therefore adds no retry loop of its own; a read that
// fails mid-stream after Get returned is not retried and surfaces to the
// caller.
type S3Config struct {
	// Endpoint is the S3 service address as host or host:port, without a
	// scheme. Default DefaultS3Endpoint (AWS).
	Endpoint string
	// Bucket is the bucket holding the objects. Required.
	Bucket string
	// Prefix is prepended to every key inside the bucket, joined with "/"
	// ("tenant1" stores key "a/b" as "tenant1/a/b"), so several stores can
	// share one bucket. Leading and trailing slashes are trimmed by
	// EnsureDefaults. Default "" (keys at the bucket root).
	Prefix string
	// Region is the bucket's region. Default "": minio-go discovers it with
	// GetBucketLocation and caches it.
	Region string
	// AccessKey and SecretKey are static credentials; set both or neither.
	// When empty, credentials come from the environment: AWS_ACCESS_KEY_ID,
	// AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN first, then MinIO's
	// MINIO_ROOT_USER/MINIO_ROOT_PASSWORD (or MINIO_ACCESS_KEY/
	// MINIO_SECRET_KEY); with none set, requests are anonymous.
	AccessKey string
	// SecretKey pairs with AccessKey. Default "".
	SecretKey string
	// SessionToken is the temporary-credentials token used with AccessKey.
	// Default "".
	SessionToken string
	// UseTLS selects https (true) or plain http (false). Default false; the
	// s3:// URL form of Open defaults it to true.
	UseTLS bool
	// PathStyle selects path-style bucket lookup (http://host/bucket/key),
	// needed by MinIO and most local S3-compatible servers. When false,
	// minio-go picks automatically: virtual-host style
	// (http://bucket.host/key) for AWS and other providers known to support
	// it, path style otherwise. Default false.
	PathStyle bool
	// CreateBucket makes NewS3 create the bucket if it does not exist. When
	// false, NewS3 fails with ErrBucketNotFound for a missing bucket.
	// Default false.
	CreateBucket bool
	// MaxRetries is the number of attempts minio-go makes per request, first
	// try included; 1 disables retries. Default DefaultS3MaxRetries.
	MaxRetries int
	// BufferSize is the largest object, in bytes, that Put copies into memory
	// when its reader is not an io.ReadSeeker, so the upload can be retried.
	// Larger objects go up as a multipart upload whose parts minio-go
	// buffers (and retries) one at a time. Default DefaultS3BufferSize
	// (16 MiB, minio-go's part size).
	BufferSize int64
	// Transport overrides the HTTP transport. Default nil: minio-go's
	// default transport.
	Transport http.RoundTripper
	// Logger receives the store's logs. Default slog.Default().
	Logger *slog.Logger
}

// EnsureDefaults fills zero fields with their defaults and normalizes
// Prefix.
func (c *S3Config) EnsureDefaults() {
	if c.Endpoint == "" {
		c.Endpoint = DefaultS3Endpoint
	}
	c.Prefix = strings.Trim(c.Prefix, "/")
	if c.MaxRetries == 0 {
		c.MaxRetries = DefaultS3MaxRetries
	}
	if c.BufferSize == 0 {
		c.BufferSize = DefaultS3BufferSize
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// Validate reports the first invalid field.
func (c *S3Config) Validate() error {
	if c.Endpoint == "" {
		return errors.New("objstore: s3: empty Endpoint")
	}
	if strings.Contains(c.Endpoint, "://") || strings.ContainsAny(c.Endpoint, "/?#") {
		return fmt.Errorf("objstore: s3: Endpoint %q must be host or host:port, without scheme or path", c.Endpoint)
	}
	if c.Bucket == "" {
		return errors.New("objstore: s3: empty Bucket")
	}
	if err := s3utils.CheckValidBucketNameStrict(c.Bucket); err != nil {
		return fmt.Errorf("objstore: s3: Bucket %q: %w", c.Bucket, err)
	}
	if c.Prefix != "" {
		if err := ValidateKey(c.Prefix); err != nil {
			return fmt.Errorf("objstore: s3: Prefix: %w", err)
		}
	}
	if (c.AccessKey == "") != (c.SecretKey == "") {
		return errors.New("objstore: s3: set both AccessKey and SecretKey, or neither")
	}
	if c.SessionToken != "" && c.AccessKey == "" {
		return errors.New("objstore: s3: SessionToken needs AccessKey and SecretKey")
	}
	if c.MaxRetries < 1 {
		return fmt.Errorf("objstore: s3: MaxRetries %d < 1", c.MaxRetries)
	}
	if c.BufferSize < 0 {
		return fmt.Errorf("objstore: s3: negative BufferSize %d", c.BufferSize)
	}
	return nil
}

// S3 is a Store over an S3-compatible bucket through minio-go. Objects are
// stored at Prefix + "/" + key. S3 PUTs (single or multipart) are atomic, so
// readers never see a partial object.
type S3 struct {
	cfg    S3Config
	client *minio.Client
	prefix string // cfg.Prefix + "/", or "" for none
	log    *slog.Logger
}

var _ Store = (*S3)(nil)

// NewS3 connects to the bucket described by cfg, creating it if
// cfg.CreateBucket is set, and checks that it exists.
func NewS3(ctx context.Context, cfg S3Config) (*S3, error) {
	cfg.EnsureDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	var creds *credentials.Credentials
	if cfg.AccessKey != "" {
		creds = credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, cfg.SessionToken)
	} else {
		creds = credentials.NewChainCredentials([]credentials.Provider{
			&credentials.EnvAWS{},
			&credentials.EnvMinio{},
		})
	}
	lookup := minio.BucketLookupAuto
	if cfg.PathStyle {
		lookup = minio.BucketLookupPath
	}
	client, err := minio.New(cfg.Endpoint, &minio.Options{
		Creds:        creds,
		Secure:       cfg.UseTLS,
		Transport:    cfg.Transport,
		Region:       cfg.Region,
		BucketLookup: lookup,
		MaxRetries:   cfg.MaxRetries,
	})
	if err != nil {
		return nil, fmt.Errorf("objstore: s3: client for %q: %w", cfg.Endpoint, err)
	}
	s := &S3{cfg: cfg, client: client, log: cfg.Logger}
	if cfg.Prefix != "" {
		s.prefix = cfg.Prefix + "/"
	}
	if err := s.ensureBucket(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *S3) ensureBucket(ctx context.Context) error {
	ok, err := s.client.BucketExists(ctx, s.cfg.Bucket)
	if err != nil {
		return fmt.Errorf("objstore: s3: check bucket %q at %s: %w", s.cfg.Bucket, s.cfg.Endpoint, err)
	}
	if ok {
		return nil
	}
	if !s.cfg.CreateBucket {
		return fmt.Errorf("objstore: s3: bucket %q at %s: %w", s.cfg.Bucket, s.cfg.Endpoint, ErrBucketNotFound)
	}
	err = s.client.MakeBucket(ctx, s.cfg.Bucket, minio.MakeBucketOptions{Region: s.cfg.Region})
	if err != nil {
		code := minio.ToErrorResponse(err).Code
		if code != "BucketAlreadyOwnedByYou" && code != "BucketAlreadyExists" {
			return fmt.Errorf("objstore: s3: create bucket %q at %s: %w", s.cfg.Bucket, s.cfg.Endpoint, err)
		}
	} else {
		s.log.Info("objstore: created bucket", "bucket", s.cfg.Bucket, "endpoint", s.cfg.Endpoint)
	}
	return nil
}

// Client answers the underlying minio-go client, for administration the
// Store interface does not cover.
func (s *S3) Client() *minio.Client { return s.client }

// Bucket answers the bucket name.
func (s *S3) Bucket() string { return s.cfg.Bucket }

// object answers the bucket object name of a key.
func (s *S3) object(key string) string { return s.prefix + key }

// Put uploads exactly size bytes read from r to key. A body minio-go cannot
// rewind (see rewindable) of at most BufferSize bytes is first read into
// memory so that minio-go can replay it on a retry; larger ones go up as a
// multipart upload with each part buffered. It fails if r ends before size
// bytes. A negative size is an error.
func (s *S3) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	if err := ValidateKey(key); err != nil {
		return err
	}
	if size < 0 {
		return fmt.Errorf("objstore: s3: put %q: negative size %d", key, size)
	}
	body := r
	if rewindable(r) {
		// Catch a short body here: minio-go would otherwise send a request
		// that fails mid-body and retry it MaxRetries times.
		if n, err := remaining(r.(io.Seeker)); err != nil {
			return fmt.Errorf("objstore: s3: put %q: %w", key, err)
		} else if n < size {
			return fmt.Errorf("objstore: s3: put %q: body has %d of %d bytes: %w", key, n, size, io.ErrUnexpectedEOF)
		}
	} else if size <= s.cfg.BufferSize {
		buf := make([]byte, size)
		if n, err := io.ReadFull(r, buf); err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return fmt.Errorf("objstore: s3: put %q: read body after %d of %d bytes: %w", key, n, size, err)
		}
		body = bytes.NewReader(buf)
	}
	opts := minio.PutObjectOptions{ContentType: "application/octet-stream"}
	if size == 0 {
		// minio-go's streaming (aws-chunked) signature, used over plain http,
		// computes a Content-Length of 0 for an empty body yet still sends the
		// final chunk, so net/http falls back to Transfer-Encoding: chunked and
		// S3 answers MissingContentLength. An empty body has no payload to
		// sign; send it as UNSIGNED-PAYLOAD with Content-Length: 0 instead.
		opts.DisableContentSha256 = true
	}
	info, err := s.client.PutObject(ctx, s.cfg.Bucket, s.object(key), body, size, opts)
	if err != nil {
		return fmt.Errorf("objstore: s3: put %q: %w", key, err)
	}
	if info.Size != size {
		return fmt.Errorf("objstore: s3: put %q: uploaded %d of %d bytes: %w", key, info.Size, size, io.ErrUnexpectedEOF)
	}
	return nil
}

// rewindable reports whether minio-go can replay r on a retry: it wraps a
// reader that is both an io.ReaderAt and an io.Seeker in a section reader
// starting at the current offset. A plain io.ReadSeeker is not enough, since
// minio-go would rewind it to offset 0 rather than to where the body starts.
func rewindable(r io.Reader) bool {
	_, isReaderAt := r.(io.ReaderAt)
	_, isSeeker := r.(io.Seeker)
	return isReaderAt && isSeeker
}

// remaining answers the bytes between the current offset of sk and its end,
// leaving the offset unchanged.
func remaining(sk io.Seeker) (int64, error) {
	cur, err := sk.Seek(0, io.SeekCurrent)
	if err != nil {
		return 0, fmt.Errorf("seek body: %w", err)
	}
	end, err := sk.Seek(0, io.SeekEnd)
	if err != nil {
		return 0, fmt.Errorf("seek body: %w", err)
	}
	if _, err := sk.Seek(cur, io.SeekStart); err != nil {
		return 0, fmt.Errorf("seek body: %w", err)
	}
	return end - cur, nil
}

// Get opens the object at key. minio-go's GetObject is lazy, so Get stats the
// object (which sends the GET) before returning: a missing key answers an
// error wrapping ErrNotFound here rather than at the first Read.
func (s *S3) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	if err := ValidateKey(key); err != nil {
		return nil, err
	}
	obj, err := s.client.GetObject(ctx, s.cfg.Bucket, s.object(key), minio.GetObjectOptions{})
	if err != nil {
		return nil, s.wrapErr("get", key, err)
	}
	if _, err := obj.Stat(); err != nil {
		_ = obj.Close()
		return nil, s.wrapErr("get", key, err)
	}
	return obj, nil
}

// List answers the keys starting with prefix, sorted ascending, across all
// pages of the bucket listing.
func (s *S3) List(ctx context.Context, prefix string) ([]string, error) {
	keys := []string{}
	for obj := range s.client.ListObjectsIter(ctx, s.cfg.Bucket, minio.ListObjectsOptions{
		Prefix:    s.prefix + prefix,
		Recursive: true,
	}) {
		if obj.Err != nil {
			return nil, fmt.Errorf("objstore: s3: list %q: %w", prefix, obj.Err)
		}
		key, ok := strings.CutPrefix(obj.Key, s.prefix)
		if !ok || strings.HasSuffix(key, "/") {
			continue // not ours, or a "directory" marker another tool made
		}
		keys = append(keys, key)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("objstore: s3: list %q: %w", prefix, err)
	}
	sort.Strings(keys)
	return keys, nil
}

// Delete removes the object at key; a missing key is not an error.
func (s *S3) Delete(ctx context.Context, key string) error {
	if err := ValidateKey(key); err != nil {
		return err
	}
	err := s.client.RemoveObject(ctx, s.cfg.Bucket, s.object(key), minio.RemoveObjectOptions{})
	if err != nil && minio.ToErrorResponse(err).Code != minio.NoSuchKey {
		return fmt.Errorf("objstore: s3: delete %q: %w", key, err)
	}
	return nil
}

// wrapErr wraps a minio error for op on key, mapping a missing key to
// ErrNotFound.
func (s *S3) wrapErr(op, key string, err error) error {
	resp := minio.ToErrorResponse(err)
	if resp.Code == minio.NoSuchKey || (resp.StatusCode == http.StatusNotFound && resp.Code != minio.NoSuchBucket) {
		return fmt.Errorf("objstore: s3: %s %q: %w (%w)", op, key, ErrNotFound, err)
	}
	return fmt.Errorf("objstore: s3: %s %q: %w", op, key, err)
}
