package lambda

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/sluice-cd/sluice/internal/pipeline"
	"github.com/sluice-cd/sluice/internal/stage"
)

// codeFields are the fields that say where a function's code comes from
// (Deploy, Update Code): one of s3bucket and s3key, codeArtifact, zipFile
// or imageUri.
type codeFields struct {
	S3Bucket           stage.StringField `json:"s3bucket" hint:"the S3 bucket of the code .zip, in the function's region"`
	S3Key              stage.StringField `json:"s3key" hint:"the S3 key of the code .zip"`
	S3ObjectVersion    stage.StringField `json:"s3ObjectVersion"`
	S3ObjectVersionAlt stage.StringField `json:"S3ObjectVersion"`
	ZipFile            stage.StringField `json:"zipFile" hint:"path of a .zip file in the server's stages.zipFileRoot directory (sluice.yaml)"`
	ImageURI           stage.StringField `json:"imageUri" hint:"a container image URI in Amazon ECR (AWS accounts only)"`
	ImageURIAlt        stage.StringField `json:"ImageUri"`
	CodeArtifact       stage.JSONField   `json:"codeArtifact"`
}

var s3BucketPattern = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[0-9A-Za-z.-]*[^.]$`) })

func (s *codeFields) check(c *stage.Checker) {
	c.Valid(&s.S3Bucket, s3BucketPattern().MatchString)
	checkArtifact(c, &s.CodeArtifact)
	for _, f := range []*stage.Field{&s.S3Bucket.Field, &s.S3Key.Field, &s.ZipFile.Field, &s.ImageURI.Field, &s.ImageURIAlt.Field, &s.CodeArtifact.Field} {
		if !known(f) {
			return
		}
	}
	if _, err := s.source(nil); err != nil {
		f := &s.S3Key.Field
		switch {
		case strings.Contains(err.Error(), "one way"):
			f = &s.S3Bucket.Field
		case strings.HasPrefix(err.Error(), "codeArtifact"):
			f = &s.CodeArtifact.Field
		}
		c.Errorf(f, "%v", err)
	}
}

// known reports whether f's value is known: absent, null or decoded, not
// an expression and not of the wrong type.
func known(f *stage.Field) bool { return f.Missing() || f.Set() }

// hasCode reports whether the stage gives code, or may once its
// expressions are evaluated.
func (s *codeFields) hasCode() bool {
	for _, f := range []*stage.Field{&s.S3Bucket.Field, &s.S3Key.Field, &s.ZipFile.Field, &s.ImageURI.Field, &s.ImageURIAlt.Field, &s.CodeArtifact.Field} {
		if !known(f) {
			return true
		}
	}
	c, err := s.source(nil)
	return c != nil || err != nil
}

// firstOf is the first of fields that is set and not blank, trimmed.
func firstOf(fields ...*stage.StringField) string {
	for _, f := range fields {
		if v := strings.TrimSpace(f.Value); f.Set() && v != "" {
			return v
		}
	}
	return ""
}

// source is where the code comes from; nil when the stage gives none.
// bound are the execution's bound artifacts, which a codeArtifact
// {"artifactId": …} names; nil while checking a document.
func (s *codeFields) source(bound map[string]pipeline.Artifact) (*codeSource, error) {
	c := codeSource{
		s3Bucket:  firstOf(&s.S3Bucket),
		s3Key:     firstOf(&s.S3Key),
		s3Version: firstOf(&s.S3ObjectVersion, &s.S3ObjectVersionAlt),
		zipFile:   firstOf(&s.ZipFile),
		imageURI:  firstOf(&s.ImageURI, &s.ImageURIAlt),
	}
	var a *artifact
	if s.CodeArtifact.Set() {
		var err error
		if a, err = readArtifact("codeArtifact", s.CodeArtifact.Value, bound); err != nil {
			return nil, fail("%v", err)
		}
	}
	if a != nil {
		switch a.Type {
		case "": // an expected artifact, bound when the stage runs
			c.expected = a.expectedID
		case artifactEmbedded:
			b, err := decodeBase64(a.Reference)
			if err != nil {
				return nil, fail("codeArtifact.reference is not valid base64: %v", err)
			}
			c.zip = b
		case artifactS3:
			b, k, err := parseS3URL(a.Reference)
			if err != nil {
				return nil, fail("codeArtifact.reference: %v", err)
			}
			c.s3Bucket, c.s3Key, c.s3Version = b, k, a.Version
		case artifactHTTP, artifactGitHub:
			c.remote = a // downloaded by fetchRemote when the stage runs
		default:
			return nil, fail("codeArtifact.type %q is not supported for code: use %s (sent to Lambda as S3Bucket/S3Key), %s (the .zip itself), %s or %s (downloaded, at most 50 MB)",
				a.Type, artifactS3, artifactEmbedded, artifactHTTP, artifactGitHub)
		}
	}
	sources := 0
	for _, set := range []bool{c.s3Bucket != "" || c.s3Key != "", c.zipFile != "", c.zip != nil || c.remote != nil, c.imageURI != "", c.expected != ""} {
		if set {
			sources++
		}
	}
	switch {
	case sources == 0:
		return nil, nil
	case sources > 1:
		return nil, fail("give the code in one way: s3bucket and s3key, codeArtifact, zipFile, or imageUri — this stage sets more than one")
	case (c.s3Bucket == "") != (c.s3Key == "") && a == nil:
		return nil, fail("s3bucket and s3key go together: set both to deploy code from S3")
	}
	return &c, nil
}

// refuseImageOnLocal fails a stage that deploys a container image to the
// local Lambda, which runs only .zip functions.
func (s *codeFields) refuseImageOnLocal(f *function) error {
	if f.acct.Local && firstOf(&s.ImageURI, &s.ImageURIAlt) != "" {
		return fail("imageUri: container images are not supported by the local Lambda (account local); deploy a .zip with s3bucket/s3key, or use an AWS account")
	}
	return nil
}

// codeSource is where a function's code comes from: an S3 object, a zip
// (embedded artifact or a file on Sluice's machine), or a container image.
type codeSource struct {
	s3Bucket, s3Key, s3Version string
	zipFile                    string // path, read when the code is needed
	zipFileRoot                string // the directory zipFile must be in; "" reads none
	zip                        []byte // embedded/base64 artifact content
	imageURI                   string
	expected                   string    // the expected artifact's id, while checking
	remote                     *artifact // http/file or github/file .zip, until fetchRemote
}

// prepare readies c for the function f: where its zipFile may be read,
// and the .zip of a downloaded artifact, fetched. c may be nil.
func (c *codeSource) prepare(ctx context.Context, f *function) error {
	if c == nil {
		return nil
	}
	c.zipFileRoot = f.zipFileRoot
	if c.remote == nil {
		return nil
	}
	b, err := f.fetch.forCode().artifactContent(ctx, "codeArtifact", c.remote, nil)
	if err != nil {
		return fail("%v", err)
	}
	c.zip, c.remote = b, nil
	return nil
}

func (c *codeSource) String() string {
	switch {
	case c.imageURI != "":
		return "image " + c.imageURI
	case c.zipFile != "":
		return "zip file " + c.zipFile
	case c.zip != nil:
		return fmt.Sprintf("embedded zip (%d bytes)", len(c.zip))
	case c.s3Version != "":
		return fmt.Sprintf("s3://%s/%s (version %s)", c.s3Bucket, c.s3Key, c.s3Version)
	}
	return fmt.Sprintf("s3://%s/%s", c.s3Bucket, c.s3Key)
}

// maxZip is Lambda's limit on a zip uploaded directly.
const maxZip = 50 * 1024 * 1024

// load reads a zip file's content and returns it with its CodeSha256
// (base64 of its SHA-256, as Lambda reports it). S3 and image sources
// return nil: only Lambda knows their digest.
func (c *codeSource) load() ([]byte, string, error) {
	b := c.zip
	if c.zipFile != "" {
		var err error
		if b, err = readZipFile(c.zipFileRoot, c.zipFile); err != nil {
			return nil, "", err
		}
	}
	if b == nil {
		return nil, "", nil
	}
	if !bytes.HasPrefix(b, []byte("PK")) {
		return nil, "", fail("%s is not a .zip file", c)
	}
	sum := sha256.Sum256(b)
	return b, base64.StdEncoding.EncodeToString(sum[:]), nil
}

// functionCode is the CreateFunction code of c.
func (c *codeSource) functionCode() (*types.FunctionCode, error) {
	zip, _, err := c.load()
	if err != nil {
		return nil, err
	}
	fc := &types.FunctionCode{ZipFile: zip}
	switch {
	case c.imageURI != "":
		fc.ImageUri = aws.String(c.imageURI)
	case zip == nil:
		fc.S3Bucket, fc.S3Key = aws.String(c.s3Bucket), aws.String(c.s3Key)
		if c.s3Version != "" {
			fc.S3ObjectVersion = aws.String(c.s3Version)
		}
	}
	return fc, nil
}

// readZipFile reads a stage's zipFile, a path on the machine running
// Sluice, which must lie under root: relative to it, or absolute and
// inside it. It is opened through an os.Root, so neither ".." nor a
// symbolic link leads out of root. With no root no file is read: a
// pipeline must not be able to read whatever the server can.
func readZipFile(root, name string) ([]byte, error) {
	if root == "" {
		return nil, fail("zipFile %s: this server reads no files for zipFile; set stages.zipFileRoot in sluice.yaml (--config) "+
			"to the directory that holds your .zip files and name one inside it, or upload the .zip to S3 and set s3bucket and s3key", name)
	}
	rel := filepath.Clean(name)
	if filepath.IsAbs(rel) {
		var err error
		if rel, err = filepath.Rel(root, rel); err != nil || !filepath.IsLocal(rel) {
			return nil, fail("zipFile %s is not inside stages.zipFileRoot %s: name a file under that directory, or a path relative to it", name, root)
		}
	}
	dir, err := os.OpenRoot(root)
	if err != nil {
		return nil, fail("zipFile %s: open stages.zipFileRoot: %v", name, err)
	}
	defer dir.Close()
	f, err := dir.Open(rel)
	if err != nil {
		if strings.Contains(err.Error(), "escapes") {
			return nil, fail("zipFile %s leads outside stages.zipFileRoot %s (through .. or a symbolic link): name a file under that directory", name, root)
		}
		return nil, fail("zipFile %s (in stages.zipFileRoot %s): %v", name, root, err)
	}
	defer f.Close()
	st, err := f.Stat()
	switch {
	case err != nil:
		return nil, fail("zipFile %s: %v", name, err)
	case !st.Mode().IsRegular():
		return nil, fail("zipFile %s is not a file", name)
	case st.Size() > maxZip:
		return nil, fail("zipFile %s is %d bytes; Lambda takes at most %d bytes directly: upload it to S3 and use s3bucket/s3key", name, st.Size(), maxZip)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxZip+1))
	if err != nil {
		return nil, fail("zipFile %s: %v", name, err)
	}
	return b, nil
}
