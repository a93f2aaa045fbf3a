package s3

import (
	"cmp"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/johannesboyne/gofakes3"
)

// Multipart uploads keep their parts in files, never in memory (gofakes3's
// own uploader holds every part of every upload in memory, then the whole
// object once more to complete it: four 240 MB uploads took 2.5 GB):
//
//	DIR/uploads/ID/N   part N of upload ID, as uploaded
//
// What an upload is — bucket, key, metadata, its parts' sizes and ETags —
// is kept in memory only: an upload in progress does not survive a
// restart (Open removes DIR/uploads), as with gofakes3's uploader.
// Completing an upload streams the parts into a new object.

var _ gofakes3.MultipartBackend = (*Store)(nil)

// upload is a multipart upload in progress.
type upload struct {
	id, bucket, key string
	meta            map[string]string
	initiated       time.Time
	parts           map[int]*uploadPart
}

type uploadPart struct {
	size     int64
	etag     string // quoted hex MD5, as S3 sends it
	modified time.Time
}

func (s *Store) uploadDir(id string) string { return filepath.Join(s.dir, "uploads", id) }

// upload returns the upload id of bucket and key; the caller holds s.mu.
func (s *Store) upload(bucket, key string, id gofakes3.UploadID) (*upload, error) {
	u := s.uploads[string(id)]
	if u == nil || u.bucket != bucket || u.key != key {
		return nil, gofakes3.ErrNoSuchUpload
	}
	return u, nil
}

func (s *Store) CreateMultipartUpload(bucket, key string, meta map[string]string) (gofakes3.UploadID, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.buckets[bucket] == nil {
		return "", gofakes3.BucketNotFound(bucket)
	}
	id := strings.ReplaceAll(uuid.NewString(), "-", "")
	if err := os.MkdirAll(s.uploadDir(id), 0o700); err != nil {
		return "", fmt.Errorf("create multipart upload of %s/%s: %w", bucket, key, err)
	}
	s.uploads[id] = &upload{id: id, bucket: bucket, key: key, meta: meta, initiated: s.clock().UTC(), parts: map[int]*uploadPart{}}
	return gofakes3.UploadID(id), nil
}

func (s *Store) UploadPart(bucket, key string, id gofakes3.UploadID, partNumber int, contentLength int64, input io.Reader) (string, error) {
	if partNumber < 1 || partNumber > gofakes3.MaxUploadPartNumber {
		return "", gofakes3.ErrInvalidPart
	}
	s.mu.RLock()
	_, err := s.upload(bucket, key, id)
	s.mu.RUnlock()
	if err != nil {
		return "", err
	}
	dir := s.uploadDir(string(id))
	f, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return "", fmt.Errorf("write part %d of %s/%s: %w", partNumber, bucket, key, err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op after the rename
	h := md5.New()
	n, err := io.Copy(io.MultiWriter(f, h), io.LimitReader(input, contentLength+1))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", fmt.Errorf("write part %d of %s/%s: %w", partNumber, bucket, key, err)
	}
	if n != contentLength {
		return "", gofakes3.ErrIncompleteBody
	}
	etag := `"` + hex.EncodeToString(h.Sum(nil)) + `"`

	s.mu.Lock()
	defer s.mu.Unlock()
	u, err := s.upload(bucket, key, id) // aborted meanwhile?
	if err != nil {
		return "", err
	}
	if err := os.Rename(tmp, filepath.Join(dir, strconv.Itoa(partNumber))); err != nil {
		return "", fmt.Errorf("write part %d of %s/%s: %w", partNumber, bucket, key, err)
	}
	u.parts[partNumber] = &uploadPart{size: n, etag: etag, modified: s.clock().UTC()}
	return etag, nil
}

func (s *Store) ListParts(bucket, key string, id gofakes3.UploadID, marker int, limit int64) (*gofakes3.ListMultipartUploadPartsResult, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	u, err := s.upload(bucket, key, id)
	if err != nil {
		return nil, err
	}
	res := &gofakes3.ListMultipartUploadPartsResult{Bucket: bucket, Key: key, UploadID: id, PartNumberMarker: marker, MaxParts: limit, StorageClass: "STANDARD"}
	for _, n := range slices.Sorted(maps.Keys(u.parts)) {
		if n <= marker {
			continue
		}
		if int64(len(res.Parts)) >= limit {
			res.IsTruncated = true
			break
		}
		p := u.parts[n]
		res.Parts = append(res.Parts, gofakes3.ListMultipartUploadPartItem{PartNumber: n, ETag: p.etag, Size: p.size,
			LastModified: gofakes3.NewContentTime(p.modified)})
		res.NextPartNumberMarker = n
	}
	return res, nil
}

func (s *Store) ListMultipartUploads(bucket string, marker *gofakes3.UploadListMarker, prefix gofakes3.Prefix, limit int64) (*gofakes3.ListMultipartUploadsResult, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.buckets[bucket] == nil {
		return nil, gofakes3.BucketNotFound(bucket)
	}
	var ups []*upload
	for _, u := range s.uploads {
		if u.bucket == bucket {
			ups = append(ups, u)
		}
	}
	// By key, then by initiation, as S3 lists them.
	slices.SortFunc(ups, func(a, b *upload) int {
		return cmp.Or(strings.Compare(a.key, b.key), a.initiated.Compare(b.initiated), strings.Compare(a.id, b.id))
	})
	res := &gofakes3.ListMultipartUploadsResult{Bucket: bucket, Delimiter: prefix.Delimiter, Prefix: prefix.Prefix, MaxUploads: limit}
	if marker != nil {
		res.KeyMarker, res.UploadIDMarker = marker.Object, marker.UploadID
	}
	seen := map[string]bool{}
	var match gofakes3.PrefixMatch
	for i, u := range ups {
		if marker != nil && (u.key < marker.Object || u.key == marker.Object && (marker.UploadID == "" || u.id <= string(marker.UploadID))) {
			continue
		}
		if !prefix.Match(u.key, &match) {
			continue
		}
		if match.CommonPrefix {
			if !seen[match.MatchedPart] {
				seen[match.MatchedPart] = true
				res.CommonPrefixes = append(res.CommonPrefixes, match.AsCommonPrefix())
			}
			continue
		}
		if int64(len(res.Uploads)) >= limit {
			res.IsTruncated = true
			prev := ups[i-1]
			res.NextKeyMarker, res.NextUploadIDMarker = prev.key, gofakes3.UploadID(prev.id)
			break
		}
		res.Uploads = append(res.Uploads, gofakes3.ListMultipartUploadItem{Key: u.key, UploadID: gofakes3.UploadID(u.id),
			StorageClass: "STANDARD", Initiated: gofakes3.NewContentTime(u.initiated)})
	}
	return res, nil
}

func (s *Store) AbortMultipartUpload(bucket, key string, id gofakes3.UploadID) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.upload(bucket, key, id); err != nil {
		return err
	}
	delete(s.uploads, string(id))
	_ = os.RemoveAll(s.uploadDir(string(id)))
	return nil
}

func (s *Store) CompleteMultipartUpload(bucket, key string, id gofakes3.UploadID, input *gofakes3.CompleteMultipartUploadRequest) (gofakes3.VersionID, string, error) {
	s.mu.Lock()
	u, err := s.upload(bucket, key, id)
	if err == nil {
		// Taken out of the table while its parts are joined: a second
		// Complete or an Abort meanwhile finds no upload.
		delete(s.uploads, string(id))
	}
	s.mu.Unlock()
	if err != nil {
		return "", "", err
	}
	dir := s.uploadDir(string(id))
	restore := func() {
		s.mu.Lock()
		s.uploads[string(id)] = u
		s.mu.Unlock()
	}
	if len(input.Parts) == 0 {
		restore()
		return "", "", gofakes3.ErrorMessage(gofakes3.ErrMalformedXML, "You must specify at least one part")
	}
	var (
		files []io.Reader
		size  int64
		sums  = md5.New()
	)
	defer func() {
		for _, f := range files {
			f.(*os.File).Close()
		}
	}()
	for i, in := range input.Parts {
		if i > 0 && in.PartNumber <= input.Parts[i-1].PartNumber {
			restore()
			return "", "", gofakes3.ErrInvalidPartOrder
		}
		p := u.parts[in.PartNumber]
		if p == nil || strings.Trim(in.ETag, `"`) != strings.Trim(p.etag, `"`) {
			restore()
			return "", "", gofakes3.ErrorMessagef(gofakes3.ErrInvalidPart, "part %d with ETag %s was not uploaded", in.PartNumber, in.ETag)
		}
		f, err := os.Open(filepath.Join(dir, strconv.Itoa(in.PartNumber)))
		if err != nil {
			restore()
			return "", "", fmt.Errorf("complete multipart upload of %s/%s: %w", bucket, key, err)
		}
		files = append(files, f)
		size += p.size
		sum, _ := hex.DecodeString(strings.Trim(p.etag, `"`))
		sums.Write(sum)
	}
	if _, err := s.PutObject(bucket, key, u.meta, io.MultiReader(files...), size, nil); err != nil {
		restore()
		return "", "", err
	}
	_ = os.RemoveAll(dir)
	return "", fmt.Sprintf(`"%s-%d"`, hex.EncodeToString(sums.Sum(nil)), len(input.Parts)), nil
}
