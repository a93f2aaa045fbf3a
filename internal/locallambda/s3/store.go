// Package s3 owns the local Lambda's S3 store: buckets and objects kept in
// files under one directory, served path-style over HTTP by gofakes3, and
// read directly by the control plane when a function's code comes from
// S3Bucket/S3Key. It must not know about functions; it keeps one version
// of each object (no S3 versioning) and no package-level state.
package s3

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/johannesboyne/gofakes3"
	"github.com/sluice-cd/sluice/internal/atomicfile"
)

// Store is the S3 store behind the local Lambda's S3 endpoint: a
// gofakes3.Backend that keeps every bucket and object in files, so uploaded
// artifacts survive a restart like the functions made from them.
//
// gofakes3 ships two persistent backends, and neither fits: s3afero maps
// keys onto a directory tree (so "a" and "a/b" cannot both exist, and keys
// with ".." or "//" misbehave) and s3bolt keeps whole objects inside one
// bbolt file; both would also add dependencies. This one is small:
//
//	DIR/buckets/NAME/bucket.json        bucket creation time
//	DIR/buckets/NAME/meta/SHA256(key)   object metadata (key, size, MD5, user metadata, blob)
//	DIR/buckets/NAME/blobs/ID           object content
//
// A put writes the blob, then replaces the metadata file atomically, then
// removes the old blob: a crash leaves the old or the new object, and at
// worst an unreferenced blob, which the next start removes. The metadata
// of every object is indexed in memory; contents are read from disk.
// Buckets are unversioned. Multipart uploads keep their parts in files
// too (multipart.go): no object, however it is uploaded, is held in
// memory.
type Store struct {
	dir     string
	clock   func() time.Time
	handler http.Handler

	mu      sync.RWMutex
	buckets map[string]*storedBucket
	uploads map[string]*upload // multipart uploads in progress, by ID (multipart.go)
}

// Config configures a Store. Zero values take the documented defaults.
type Config struct {
	// Dir holds the buckets (Dir/buckets/…). Required; created if missing.
	Dir string
	// Clock stamps creation and modification times. Default time.Now.
	Clock func() time.Time
	// Logger receives gofakes3's messages (at Debug; its warnings at Warn).
	// Nil discards them.
	Logger *slog.Logger
}

type storedBucket struct {
	name    string
	created time.Time
	objects map[string]*objectMeta
}

// objectMeta is an object's metadata, as stored in its meta file.
type objectMeta struct {
	Key          string            `json:"key"`
	Size         int64             `json:"size"`
	MD5          string            `json:"md5"` // hex
	Metadata     map[string]string `json:"metadata,omitempty"`
	LastModified time.Time         `json:"lastModified"`
	Blob         string            `json:"blob"`
}

var _ gofakes3.Backend = (*Store)(nil)

// Open loads the store under cfg.Dir, creating it if needed, and removes
// what an interrupted write left behind.
func Open(cfg Config) (*Store, error) {
	dir := cfg.Dir
	if dir == "" {
		return nil, errors.New("S3 store: Config.Dir is required")
	}
	clock := cfg.Clock
	if clock == nil {
		clock = time.Now
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Store{dir: dir, clock: clock, buckets: map[string]*storedBucket{}, uploads: map[string]*upload{}}
	s.handler = gofakes3.New(s,
		gofakes3.WithTimeSource(clockTimeSource{clock}),
		gofakes3.WithTimeSkewLimit(0),
		gofakes3.WithLogger(gofakes3Logger{log}),
	).Server()
	// Uploads in progress do not survive a restart (multipart.go).
	if err := os.RemoveAll(filepath.Join(dir, "uploads")); err != nil {
		return nil, fmt.Errorf("remove the S3 store's unfinished multipart uploads: %w", err)
	}
	root := filepath.Join(dir, "buckets")
	if err := os.MkdirAll(root, 0o700); err != nil {
		return nil, fmt.Errorf("create the S3 store: %w", err)
	}
	entries, err := os.ReadDir(root)
	if err != nil {
		return nil, fmt.Errorf("read the S3 store: %w", err)
	}
	for _, e := range entries {
		if !e.IsDir() || gofakes3.ValidateBucketName(e.Name()) != nil {
			continue
		}
		b, err := s.loadBucket(e.Name())
		if err != nil {
			return nil, err
		}
		if b != nil {
			s.buckets[b.name] = b
		}
	}
	return s, nil
}

func (s *Store) bucketDir(name string) string { return filepath.Join(s.dir, "buckets", name) }

// loadBucket reads one bucket's metadata and removes blobs no object
// references (left by a crash between writing a blob and its metadata).
func (s *Store) loadBucket(name string) (*storedBucket, error) {
	dir := s.bucketDir(name)
	raw, err := os.ReadFile(filepath.Join(dir, "bucket.json"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil // a bucket whose creation never completed
	}
	if err != nil {
		return nil, fmt.Errorf("read S3 bucket %s: %w", name, err)
	}
	var info struct {
		Created time.Time `json:"created"`
	}
	if err := json.Unmarshal(raw, &info); err != nil {
		return nil, fmt.Errorf("decode S3 bucket %s: %w", name, err)
	}
	b := &storedBucket{name: name, created: info.Created, objects: map[string]*objectMeta{}}
	metas, err := os.ReadDir(filepath.Join(dir, "meta"))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("read S3 bucket %s: %w", name, err)
	}
	used := map[string]bool{}
	for _, m := range metas {
		if strings.HasPrefix(m.Name(), ".") {
			// A temporary file of an interrupted write; the object it was
			// replacing is still described by its own file.
			_ = os.Remove(filepath.Join(dir, "meta", m.Name()))
			continue
		}
		raw, err := os.ReadFile(filepath.Join(dir, "meta", m.Name()))
		if err != nil {
			return nil, fmt.Errorf("read S3 object metadata %s/%s: %w", name, m.Name(), err)
		}
		var o objectMeta
		if err := json.Unmarshal(raw, &o); err != nil {
			return nil, fmt.Errorf("decode S3 object metadata %s/%s: %w", name, m.Name(), err)
		}
		b.objects[o.Key] = &o
		used[o.Blob] = true
	}
	blobs, _ := os.ReadDir(filepath.Join(dir, "blobs"))
	for _, bl := range blobs {
		if !used[bl.Name()] {
			_ = os.Remove(filepath.Join(dir, "blobs", bl.Name()))
		}
	}
	return b, nil
}

func metaName(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

func (s *Store) ListBuckets() ([]gofakes3.BucketInfo, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]gofakes3.BucketInfo, 0, len(s.buckets))
	for _, b := range s.buckets {
		out = append(out, gofakes3.BucketInfo{Name: b.name, CreationDate: gofakes3.NewContentTime(b.created)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func (s *Store) ListBucket(name string, prefix *gofakes3.Prefix, page gofakes3.ListBucketPage) (*gofakes3.ObjectList, error) {
	if prefix == nil {
		prefix = &gofakes3.Prefix{}
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	b := s.buckets[name]
	if b == nil {
		return nil, gofakes3.BucketNotFound(name)
	}
	keys := slices.Sorted(maps.Keys(b.objects))
	start := 0
	if page.Marker != "" {
		start = sort.Search(len(keys), func(i int) bool { return keys[i] > page.Marker })
	}
	list := gofakes3.NewObjectList()
	var match gofakes3.PrefixMatch
	var count int64
	lastPrefix := ""
	for i := start; i < len(keys); i++ {
		o := b.objects[keys[i]]
		if !prefix.Match(o.Key, &match) {
			continue
		}
		if match.CommonPrefix {
			if match.MatchedPart == lastPrefix {
				continue
			}
			list.AddPrefix(match.MatchedPart)
			lastPrefix = match.MatchedPart
		} else {
			hash, _ := hex.DecodeString(o.MD5)
			list.Add(&gofakes3.Content{
				Key:          o.Key,
				LastModified: gofakes3.NewContentTime(o.LastModified),
				ETag:         gofakes3.FormatETag(hash),
				Size:         o.Size,
			})
		}
		count++
		if page.MaxKeys > 0 && count >= page.MaxKeys {
			list.NextMarker = o.Key
			list.IsTruncated = i+1 < len(keys)
			break
		}
	}
	return list, nil
}

func (s *Store) CreateBucket(name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.buckets[name] != nil {
		return gofakes3.ResourceError(gofakes3.ErrBucketAlreadyExists, name)
	}
	dir := s.bucketDir(name)
	for _, sub := range []string{"meta", "blobs"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o700); err != nil {
			return fmt.Errorf("create S3 bucket %s: %w", name, err)
		}
	}
	now := s.clock().UTC()
	raw, _ := json.Marshal(struct {
		Created time.Time `json:"created"`
	}{now})
	if err := atomicfile.Write(filepath.Join(dir, "bucket.json"), raw); err != nil {
		return fmt.Errorf("create S3 bucket %s: %w", name, err)
	}
	s.buckets[name] = &storedBucket{name: name, created: now, objects: map[string]*objectMeta{}}
	return nil
}

func (s *Store) BucketExists(name string) (bool, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.buckets[name] != nil, nil
}

func (s *Store) DeleteBucket(name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.buckets[name]
	if b == nil {
		return gofakes3.BucketNotFound(name)
	}
	if len(b.objects) > 0 {
		return gofakes3.ResourceError(gofakes3.ErrBucketNotEmpty, name)
	}
	return s.removeBucketLocked(name)
}

func (s *Store) ForceDeleteBucket(name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.buckets[name] == nil {
		return gofakes3.BucketNotFound(name)
	}
	return s.removeBucketLocked(name)
}

func (s *Store) removeBucketLocked(name string) error {
	dir := s.bucketDir(name)
	// bucket.json goes first: without it the directory is no bucket, even
	// if removing the rest is interrupted.
	if err := os.Remove(filepath.Join(dir, "bucket.json")); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("delete S3 bucket %s: %w", name, err)
	}
	delete(s.buckets, name)
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("delete S3 bucket %s: %w", name, err)
	}
	return nil
}

func (s *Store) object(bucket, key string) (*objectMeta, error) {
	b := s.buckets[bucket]
	if b == nil {
		return nil, gofakes3.BucketNotFound(bucket)
	}
	o := b.objects[key]
	if o == nil {
		return nil, gofakes3.KeyNotFound(key)
	}
	return o, nil
}

func (s *Store) HeadObject(bucket, key string) (*gofakes3.Object, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	o, err := s.object(bucket, key)
	if err != nil {
		return nil, err
	}
	hash, _ := hex.DecodeString(o.MD5)
	return &gofakes3.Object{Name: key, Metadata: maps.Clone(o.Metadata), Size: o.Size, Hash: hash,
		Contents: io.NopCloser(bytes.NewReader(nil))}, nil
}

func (s *Store) GetObject(bucket, key string, rangeRequest *gofakes3.ObjectRangeRequest) (*gofakes3.Object, error) {
	s.mu.RLock()
	o, err := s.object(bucket, key)
	if err != nil {
		s.mu.RUnlock()
		return nil, err
	}
	// Open under the lock: a concurrent put removes the old blob only after
	// it has the lock, and an open file stays readable after removal.
	f, err := os.Open(filepath.Join(s.bucketDir(bucket), "blobs", o.Blob))
	meta, size, md5hex := maps.Clone(o.Metadata), o.Size, o.MD5
	s.mu.RUnlock()
	if err != nil {
		return nil, fmt.Errorf("read S3 object %s/%s: %w", bucket, key, err)
	}
	rng, err := rangeRequest.Range(size)
	if err != nil {
		f.Close()
		return nil, err
	}
	var body io.ReadCloser = f
	if rng != nil {
		if _, err := f.Seek(rng.Start, io.SeekStart); err != nil {
			f.Close()
			return nil, fmt.Errorf("read S3 object %s/%s: %w", bucket, key, err)
		}
		body = struct {
			io.Reader
			io.Closer
		}{io.LimitReader(f, rng.Length), f}
	}
	hash, _ := hex.DecodeString(md5hex)
	return &gofakes3.Object{Name: key, Metadata: meta, Size: size, Hash: hash, Range: rng, Contents: body}, nil
}

func (s *Store) PutObject(bucket, key string, meta map[string]string, input io.Reader, size int64, conditions *gofakes3.PutConditions) (gofakes3.PutObjectResult, error) {
	var result gofakes3.PutObjectResult
	if ok, _ := s.BucketExists(bucket); !ok {
		return result, gofakes3.BucketNotFound(bucket)
	}
	blobDir := filepath.Join(s.bucketDir(bucket), "blobs")
	blob := uuid.NewString()
	f, err := os.CreateTemp(blobDir, ".tmp-*")
	if err != nil {
		return result, fmt.Errorf("write S3 object %s/%s: %w", bucket, key, err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op after the rename
	h := md5.New()
	src := input
	if size >= 0 {
		src = io.LimitReader(input, size)
	}
	n, err := io.Copy(io.MultiWriter(f, h), src)
	if err == nil && size >= 0 && n != size {
		err = fmt.Errorf("got %d bytes, expected %d", n, size)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(blobDir, blob))
	}
	if err != nil {
		return result, fmt.Errorf("write S3 object %s/%s: %w", bucket, key, err)
	}
	obj := &objectMeta{Key: key, Size: n, MD5: hex.EncodeToString(h.Sum(nil)), Metadata: meta, LastModified: s.clock().UTC(), Blob: blob}

	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.buckets[bucket]
	if b == nil { // deleted meanwhile
		_ = os.Remove(filepath.Join(blobDir, blob))
		return result, gofakes3.BucketNotFound(bucket)
	}
	old := b.objects[key]
	if conditions != nil {
		info := &gofakes3.ConditionalObjectInfo{Exists: old != nil}
		if old != nil {
			info.Hash, _ = hex.DecodeString(old.MD5)
		}
		if err := gofakes3.CheckPutConditions(conditions, info); err != nil {
			_ = os.Remove(filepath.Join(blobDir, blob))
			return result, err
		}
	}
	raw, _ := json.Marshal(obj)
	if err := atomicfile.Write(filepath.Join(s.bucketDir(bucket), "meta", metaName(key)), raw); err != nil {
		_ = os.Remove(filepath.Join(blobDir, blob))
		return result, fmt.Errorf("write S3 object %s/%s: %w", bucket, key, err)
	}
	b.objects[key] = obj
	if old != nil {
		_ = os.Remove(filepath.Join(blobDir, old.Blob))
	}
	return result, nil
}

func (s *Store) DeleteObject(bucket, key string) (gofakes3.ObjectDeleteResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return gofakes3.ObjectDeleteResult{}, s.deleteObjectLocked(bucket, key)
}

// deleteObjectLocked removes an object; a missing key is no error (S3).
func (s *Store) deleteObjectLocked(bucket, key string) error {
	b := s.buckets[bucket]
	if b == nil {
		return gofakes3.BucketNotFound(bucket)
	}
	o := b.objects[key]
	if o == nil {
		return nil
	}
	dir := s.bucketDir(bucket)
	if err := os.Remove(filepath.Join(dir, "meta", metaName(key))); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("delete S3 object %s/%s: %w", bucket, key, err)
	}
	delete(b.objects, key)
	_ = os.Remove(filepath.Join(dir, "blobs", o.Blob))
	return nil
}

func (s *Store) DeleteMulti(bucket string, keys ...string) (gofakes3.MultiDeleteResult, error) {
	var result gofakes3.MultiDeleteResult
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.buckets[bucket] == nil {
		return result, gofakes3.BucketNotFound(bucket)
	}
	for _, key := range keys {
		if err := s.deleteObjectLocked(bucket, key); err != nil {
			result.Error = append(result.Error, gofakes3.ErrorResultFromError(err))
			continue
		}
		result.Deleted = append(result.Deleted, gofakes3.ObjectID{Key: key})
	}
	return result, nil
}

func (s *Store) CopyObject(srcBucket, srcKey, dstBucket, dstKey string, meta map[string]string) (gofakes3.CopyObjectResult, error) {
	return gofakes3.CopyObject(s, srcBucket, srcKey, dstBucket, dstKey, meta)
}

// Handler serves the store as S3 does, path-style: /BUCKET/KEY.
func (s *Store) Handler() http.Handler { return s.handler }

// Errors of OpenObject that name what is missing, for callers that answer
// with S3's error codes.
var (
	ErrNoSuchBucket = errors.New("s3: no such bucket")
	ErrNoSuchKey    = errors.New("s3: no such key")
)

// OpenObject opens an object's content, reading the store directly (not
// over HTTP); the control plane copies function code from it. A missing
// bucket or key is an error wrapping ErrNoSuchBucket or ErrNoSuchKey; an
// object larger than limit is an error. The caller closes the reader.
func (s *Store) OpenObject(bucket, key string, limit int64) (io.ReadCloser, int64, error) {
	obj, err := s.GetObject(bucket, key, nil)
	switch {
	case gofakes3.HasErrorCode(err, gofakes3.ErrNoSuchBucket):
		return nil, 0, fmt.Errorf("%w: %v", ErrNoSuchBucket, err)
	case gofakes3.HasErrorCode(err, gofakes3.ErrNoSuchKey):
		return nil, 0, fmt.Errorf("%w: %v", ErrNoSuchKey, err)
	case err != nil:
		return nil, 0, err
	}
	if obj.Size > limit {
		obj.Contents.Close()
		return nil, 0, fmt.Errorf("object is %d bytes, more than %d", obj.Size, limit)
	}
	return obj.Contents, obj.Size, nil
}

// gofakes3Logger sends gofakes3's messages to slog at Debug (warnings at
// Warn).
type gofakes3Logger struct{ log *slog.Logger }

func (l gofakes3Logger) Print(level gofakes3.LogLevel, v ...any) {
	lvl := slog.LevelDebug
	if level == gofakes3.LogErr || level == gofakes3.LogWarn {
		lvl = slog.LevelWarn
	}
	l.log.Log(context.Background(), lvl, "local lambda s3: "+fmt.Sprint(v...))
}

// gmt is how S3 names UTC in its dates.
var gmt = time.FixedZone("GMT", 0)

// clockTimeSource adapts the injected clock to gofakes3.
type clockTimeSource struct{ now func() time.Time }

func (c clockTimeSource) Now() time.Time                  { return c.now().In(gmt) }
func (c clockTimeSource) Since(t time.Time) time.Duration { return c.now().Sub(t) }
