package locallambda

import (
	"bytes"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/johannesboyne/gofakes3"
)

// s3Store is the S3 store behind the local Lambda's S3 endpoint: a
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
// Buckets are unversioned.
type s3Store struct {
	dir   string
	clock func() time.Time

	mu      sync.RWMutex
	buckets map[string]*s3Bucket
}

type s3Bucket struct {
	name    string
	created time.Time
	objects map[string]*s3Object
}

// s3Object is an object's metadata, as stored in its meta file.
type s3Object struct {
	Key          string            `json:"key"`
	Size         int64             `json:"size"`
	MD5          string            `json:"md5"` // hex
	Metadata     map[string]string `json:"metadata,omitempty"`
	LastModified time.Time         `json:"lastModified"`
	Blob         string            `json:"blob"`
}

var _ gofakes3.Backend = (*s3Store)(nil)

// openS3Store loads the store under dir, creating it if needed.
func openS3Store(dir string, clock func() time.Time) (*s3Store, error) {
	s := &s3Store{dir: dir, clock: clock, buckets: map[string]*s3Bucket{}}
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

func (s *s3Store) bucketDir(name string) string { return filepath.Join(s.dir, "buckets", name) }

// loadBucket reads one bucket's metadata and removes blobs no object
// references (left by a crash between writing a blob and its metadata).
func (s *s3Store) loadBucket(name string) (*s3Bucket, error) {
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
	b := &s3Bucket{name: name, created: info.Created, objects: map[string]*s3Object{}}
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
		var o s3Object
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

func (s *s3Store) ListBuckets() ([]gofakes3.BucketInfo, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]gofakes3.BucketInfo, 0, len(s.buckets))
	for _, b := range s.buckets {
		out = append(out, gofakes3.BucketInfo{Name: b.name, CreationDate: gofakes3.NewContentTime(b.created)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func (s *s3Store) ListBucket(name string, prefix *gofakes3.Prefix, page gofakes3.ListBucketPage) (*gofakes3.ObjectList, error) {
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

func (s *s3Store) CreateBucket(name string) error {
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
	if err := replaceFile(filepath.Join(dir, "bucket.json"), raw); err != nil {
		return fmt.Errorf("create S3 bucket %s: %w", name, err)
	}
	s.buckets[name] = &s3Bucket{name: name, created: now, objects: map[string]*s3Object{}}
	return nil
}

func (s *s3Store) BucketExists(name string) (bool, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.buckets[name] != nil, nil
}

func (s *s3Store) DeleteBucket(name string) error {
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

func (s *s3Store) ForceDeleteBucket(name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.buckets[name] == nil {
		return gofakes3.BucketNotFound(name)
	}
	return s.removeBucketLocked(name)
}

func (s *s3Store) removeBucketLocked(name string) error {
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

func (s *s3Store) object(bucket, key string) (*s3Object, error) {
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

func (s *s3Store) HeadObject(bucket, key string) (*gofakes3.Object, error) {
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

func (s *s3Store) GetObject(bucket, key string, rangeRequest *gofakes3.ObjectRangeRequest) (*gofakes3.Object, error) {
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

func (s *s3Store) PutObject(bucket, key string, meta map[string]string, input io.Reader, size int64, conditions *gofakes3.PutConditions) (gofakes3.PutObjectResult, error) {
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
	obj := &s3Object{Key: key, Size: n, MD5: hex.EncodeToString(h.Sum(nil)), Metadata: meta, LastModified: s.clock().UTC(), Blob: blob}

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
	if err := replaceFile(filepath.Join(s.bucketDir(bucket), "meta", metaName(key)), raw); err != nil {
		_ = os.Remove(filepath.Join(blobDir, blob))
		return result, fmt.Errorf("write S3 object %s/%s: %w", bucket, key, err)
	}
	b.objects[key] = obj
	if old != nil {
		_ = os.Remove(filepath.Join(blobDir, old.Blob))
	}
	return result, nil
}

func (s *s3Store) DeleteObject(bucket, key string) (gofakes3.ObjectDeleteResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return gofakes3.ObjectDeleteResult{}, s.deleteObjectLocked(bucket, key)
}

// deleteObjectLocked removes an object; a missing key is no error (S3).
func (s *s3Store) deleteObjectLocked(bucket, key string) error {
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

func (s *s3Store) DeleteMulti(bucket string, keys ...string) (gofakes3.MultiDeleteResult, error) {
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

func (s *s3Store) CopyObject(srcBucket, srcKey, dstBucket, dstKey string, meta map[string]string) (gofakes3.CopyObjectResult, error) {
	return gofakes3.CopyObject(s, srcBucket, srcKey, dstBucket, dstKey, meta)
}

// readObject returns an object's content for a function's code, reading
// the store directly (not over HTTP). An object larger than limit is an
// error.
func (s *s3Store) readObject(bucket, key string, limit int64) ([]byte, error) {
	obj, err := s.GetObject(bucket, key, nil)
	if err != nil {
		return nil, err
	}
	defer obj.Contents.Close()
	if obj.Size > limit {
		return nil, fmt.Errorf("object is %d bytes, more than %d", obj.Size, limit)
	}
	return io.ReadAll(io.LimitReader(obj.Contents, limit))
}
