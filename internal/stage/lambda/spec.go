package lambda

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"maps"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// functionSpec is what a Deploy (or Update Code) stage asks of a
// function. A nil pointer or a false *Set is a field the stage does not
// set: AWS keeps its value. A set field with an empty value clears.
type functionSpec struct {
	code *codeSource // nil: no code fields

	runtime, handler, role, description *string
	memorySize, timeout, ephemeralMB    *int32
	deadLetterTarget, tracingMode, kms  *string

	env         map[string]string
	envSet      bool
	tags        map[string]string
	tagsSet     bool
	layers      []string
	layersSet   bool
	arch        []types.Architecture
	archSet     bool
	subnets     []string
	sgs         []string
	vpcSet      bool
	reserved    *int32 // with reservedSet: nil clears
	reservedSet bool
}

// codeSource is where a function's code comes from: an S3 object, a zip
// (embedded artifact or a file on Sluice's machine), or a container image.
type codeSource struct {
	s3Bucket, s3Key, s3Version string
	zipFile                    string // path, read when the code is needed
	zip                        []byte // embedded/base64 artifact content
	imageURI                   string
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
		st, err := os.Stat(c.zipFile)
		if err != nil {
			return nil, "", fail("zipFile %s: %v", c.zipFile, err)
		}
		if st.Size() > maxZip {
			return nil, "", fail("zipFile %s is %d bytes; Lambda takes at most %d bytes directly: upload it to S3 and use s3bucket/s3key", c.zipFile, st.Size(), maxZip)
		}
		if b, err = os.ReadFile(c.zipFile); err != nil {
			return nil, "", fail("zipFile %s: %v", c.zipFile, err)
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

// codeFieldSpecs are the code source fields (Deploy and Update Code).
var codeFieldSpecs = []fieldSpec{
	{name: "s3bucket", kind: kindString, valid: s3BucketPattern.MatchString, hint: "the S3 bucket of the code .zip, in the function's region"},
	{name: "s3key", kind: kindString, hint: "the S3 key of the code .zip"},
	{name: "s3ObjectVersion", kind: kindString},
	{name: "S3ObjectVersion", kind: kindString},
	{name: "zipFile", kind: kindString, hint: "path of a .zip file on the machine running Sluice"},
	{name: "imageUri", kind: kindString, hint: "a container image URI in Amazon ECR (AWS accounts only)"},
	{name: "ImageUri", kind: kindString},
}

var s3BucketPattern = regexp.MustCompile(`^[0-9A-Za-z.-]*[^.]$`)

// readCode reads the code source fields; nil when none is set.
func readCode(fields map[string]any) (*codeSource, error) {
	get := func(keys ...string) (string, error) {
		for _, k := range keys {
			s, ok, err := str(fields, k)
			if err != nil {
				return "", fail("%v", err)
			}
			if ok && strings.TrimSpace(s) != "" {
				return strings.TrimSpace(s), nil
			}
		}
		return "", nil
	}
	var c codeSource
	var err error
	if c.s3Bucket, err = get("s3bucket"); err != nil {
		return nil, err
	}
	if c.s3Key, err = get("s3key"); err != nil {
		return nil, err
	}
	if c.s3Version, err = get("s3ObjectVersion", "S3ObjectVersion"); err != nil {
		return nil, err
	}
	if c.zipFile, err = get("zipFile"); err != nil {
		return nil, err
	}
	if c.imageURI, err = get("imageUri", "ImageUri"); err != nil {
		return nil, err
	}
	a, err := readArtifact(fields, "codeArtifact")
	if err != nil {
		return nil, fail("%v", err)
	}
	if a != nil {
		switch a.Type {
		case artifactEmbedded:
			if c.zip, err = decodeBase64(a.Reference); err != nil {
				return nil, fail("codeArtifact.reference is not valid base64: %v", err)
			}
		case artifactS3:
			b, k, err := parseS3URL(a.Reference)
			if err != nil {
				return nil, fail("codeArtifact.reference: %v", err)
			}
			c.s3Bucket, c.s3Key, c.s3Version = b, k, a.Version
		default:
			return nil, fail("codeArtifact.type %q is not supported for code: use %s (a .zip) or %s", a.Type, artifactEmbedded, artifactS3)
		}
	}
	sources := 0
	for _, set := range []bool{c.s3Bucket != "" || c.s3Key != "", c.zipFile != "", c.zip != nil, c.imageURI != ""} {
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

// functionSpecs are Deploy's function fields.
var functionSpecs = []fieldSpec{
	{name: "runtime", kind: kindString, hint: "e.g. provided.al2023, python3.12, nodejs22.x"},
	{name: "handler", kind: kindString},
	{name: "role", kind: kindString, valid: roleARNPattern.MatchString, hint: "the execution role ARN, e.g. arn:aws:iam::123456789012:role/my-function"},
	{name: "description", kind: kindString},
	{name: "memorySize", kind: kindInt, min: 128, max: 10240, hint: "MB"},
	{name: "timeout", kind: kindInt, min: 1, max: 900, hint: "seconds"},
	{name: "ephemeralStorage", kind: kindInt, min: 512, max: 10240, hint: "MB of /tmp"},
	{name: "envVariables", kind: kindStringMap, hint: "absent leaves the variables as they are; {} removes them all"},
	{name: "tags", kind: kindStringMap, hint: "absent leaves the tags as they are; {} removes them all"},
	{name: "layers", kind: kindStringList},
	{name: "architectures", kind: kindStringList, hint: "[\"x86_64\"] or [\"arm64\"]"},
	{name: "subnetIds", kind: kindStringList},
	{name: "securityGroupIds", kind: kindStringList},
	{name: "deadLetterConfig", kind: kindObject, sub: []fieldSpec{{name: "targetArn", kind: kindString}}},
	{name: "tracingConfig", kind: kindObject, sub: []fieldSpec{{name: "mode", kind: kindString, oneOf: []string{"Active", "PassThrough"}}}},
	{name: "kmskeyArn", kind: kindString, hint: "KMS key of the environment variables; \"\" means Lambda's default key"},
	{name: "kmsKeyArn", kind: kindString},
	{name: "KMSKeyArn", kind: kindString},
	{name: "encryptionKMSKeyArn", kind: kindString},
	{name: "reservedConcurrentExecutions", kind: kindInt, min: 0, emptyOK: true, hint: "absent leaves it as it is; \"\" or null removes the reservation"},
}

var kmsKeys = []string{"kmskeyArn", "kmsKeyArn", "KMSKeyArn", "encryptionKMSKeyArn"}

var roleARNPattern = regexp.MustCompile(`^arn:aws[a-zA-Z-]*:iam::\d{12}:role/.+$`)

// readFunctionSpec reads a Deploy stage's function fields.
func readFunctionSpec(fields map[string]any) (*functionSpec, error) {
	s := &functionSpec{}
	var err error
	if s.code, err = readCode(fields); err != nil {
		return nil, err
	}
	strField := func(key string, dst **string) error {
		v, ok, err := str(fields, key)
		if err != nil {
			return fail("%v", err)
		}
		if ok {
			*dst = aws.String(v)
		}
		return nil
	}
	intField := func(key string, dst **int32, lo, hi int64) error {
		n, ok, err := integer(fields, key)
		if err != nil {
			return fail("%s %v", key, err)
		}
		if !ok {
			return nil
		}
		if n < lo || (hi > 0 && n > hi) {
			return fail("%s must be between %d and %d, not %d", key, lo, hi, n)
		}
		*dst = aws.Int32(int32(n))
		return nil
	}
	for _, e := range []error{
		strField("runtime", &s.runtime), strField("handler", &s.handler), strField("role", &s.role),
		strField("description", &s.description),
		intField("memorySize", &s.memorySize, 128, 10240), intField("timeout", &s.timeout, 1, 900),
		intField("ephemeralStorage", &s.ephemeralMB, 512, 10240),
	} {
		if e != nil {
			return nil, e
		}
	}
	// The plugin reads kmskeyArn; its Deck form writes encryptionKMSKeyArn
	// and its templates KMSKeyArn. Any of them works here; a non-empty one
	// wins over empty ones.
	for _, k := range kmsKeys {
		v, ok, err := str(fields, k)
		if err != nil {
			return nil, fail("%v", err)
		}
		if ok && (s.kms == nil || *s.kms == "") {
			s.kms = aws.String(strings.TrimSpace(v))
		}
	}
	if s.env, s.envSet, err = emptyOrMap(fields, "envVariables"); err != nil {
		return nil, err
	}
	if s.tags, s.tagsSet, err = emptyOrMap(fields, "tags"); err != nil {
		return nil, err
	}
	if s.layers, s.layersSet, err = emptyOrList(fields, "layers"); err != nil {
		return nil, err
	}
	var arch []string
	if arch, s.archSet, err = emptyOrList(fields, "architectures"); err != nil {
		return nil, err
	}
	for _, a := range arch {
		if a != "x86_64" && a != "arm64" {
			return nil, fail("architectures: %q is not x86_64 or arm64", a)
		}
		s.arch = append(s.arch, types.Architecture(a))
	}
	if len(s.arch) > 1 {
		return nil, fail("architectures takes one architecture, x86_64 or arm64, not %d", len(s.arch))
	}
	subnets, subSet, err := emptyOrList(fields, "subnetIds")
	if err != nil {
		return nil, err
	}
	sgs, sgSet, err := emptyOrList(fields, "securityGroupIds")
	if err != nil {
		return nil, err
	}
	s.subnets, s.sgs, s.vpcSet = subnets, sgs, subSet || sgSet
	if dlq, ok, err := object(fields, "deadLetterConfig"); err != nil {
		return nil, fail("%v", err)
	} else if ok {
		t, _, err := str(dlq, "targetArn")
		if err != nil {
			return nil, fail("deadLetterConfig.%v", err)
		}
		s.deadLetterTarget = aws.String(t)
	}
	if tc, ok, err := object(fields, "tracingConfig"); err != nil {
		return nil, fail("%v", err)
	} else if ok {
		m, _, err := str(tc, "mode")
		if err != nil {
			return nil, fail("tracingConfig.%v", err)
		}
		if m != "" && m != "Active" && m != "PassThrough" {
			return nil, fail("tracingConfig.mode must be Active or PassThrough, not %q", m)
		}
		s.tracingMode = aws.String(cmpOr(m, "PassThrough"))
	}
	if v, present := fields["reservedConcurrentExecutions"]; present {
		s.reservedSet = true
		if v != nil && v != "" {
			if err := intField("reservedConcurrentExecutions", &s.reserved, 0, 1<<31-1); err != nil {
				return nil, err
			}
		}
	}
	return s, nil
}

// emptyOrMap reads an object field where null or "" mean "clear".
func emptyOrMap(fields map[string]any, key string) (map[string]string, bool, error) {
	v, present := fields[key]
	if !present {
		return nil, false, nil
	}
	if v == nil || v == "" {
		return map[string]string{}, true, nil
	}
	m, _, err := stringMap(fields, key)
	if err != nil {
		return nil, true, fail("%v", err)
	}
	return m, true, nil
}

// emptyOrList reads a list field where null or "" mean "clear".
func emptyOrList(fields map[string]any, key string) ([]string, bool, error) {
	v, present := fields[key]
	if !present {
		return nil, false, nil
	}
	if v == nil || v == "" {
		return []string{}, true, nil
	}
	l, _, err := stringList(fields, key)
	if err != nil {
		return nil, true, fail("%v", err)
	}
	return l, true, nil
}

// createInput is the CreateFunction request of s, for a function that
// does not exist yet.
func (s *functionSpec) createInput(name string) (*lambda.CreateFunctionInput, error) {
	if s.code == nil {
		return nil, fail("%s does not exist, and this stage gives no code to create it with: set s3bucket and s3key (or codeArtifact, zipFile, imageUri)", name)
	}
	var missing []string
	if aws.ToString(s.role) == "" {
		missing = append(missing, "role (the execution role ARN)")
	}
	if s.code.imageURI == "" {
		if aws.ToString(s.runtime) == "" {
			missing = append(missing, "runtime")
		}
		if aws.ToString(s.handler) == "" {
			missing = append(missing, "handler")
		}
	}
	if len(missing) > 0 {
		return nil, fail("creating function %s needs %s", name, strings.Join(missing, ", "))
	}
	code, err := s.code.functionCode()
	if err != nil {
		return nil, err
	}
	in := &lambda.CreateFunctionInput{
		FunctionName:  aws.String(name),
		Code:          code,
		Role:          s.role,
		Handler:       nonEmpty(s.handler),
		Description:   s.description,
		MemorySize:    s.memorySize,
		Timeout:       s.timeout,
		Architectures: s.arch,
		Publish:       false, // the publishVersion task publishes, once
	}
	if s.code.imageURI != "" {
		in.PackageType = types.PackageTypeImage
	} else {
		in.Runtime = types.Runtime(aws.ToString(s.runtime))
	}
	if len(s.env) > 0 {
		in.Environment = &types.Environment{Variables: s.env}
	}
	if len(s.tags) > 0 {
		in.Tags = s.tags
	}
	if len(s.layers) > 0 {
		in.Layers = s.layers
	}
	if s.ephemeralMB != nil {
		in.EphemeralStorage = &types.EphemeralStorage{Size: s.ephemeralMB}
	}
	if len(s.subnets) > 0 || len(s.sgs) > 0 {
		in.VpcConfig = &types.VpcConfig{SubnetIds: s.subnets, SecurityGroupIds: s.sgs}
	}
	if aws.ToString(s.deadLetterTarget) != "" {
		in.DeadLetterConfig = &types.DeadLetterConfig{TargetArn: s.deadLetterTarget}
	}
	if s.tracingMode != nil {
		in.TracingConfig = &types.TracingConfig{Mode: types.TracingMode(*s.tracingMode)}
	}
	if aws.ToString(s.kms) != "" {
		in.KMSKeyArn = s.kms
	}
	return in, nil
}

func nonEmpty(s *string) *string {
	if aws.ToString(s) == "" {
		return nil
	}
	return s
}

// configUpdate is the UpdateFunctionConfiguration request that brings c
// to s, and the names of the fields that differ; nil when none does.
func (s *functionSpec) configUpdate(name string, c *types.FunctionConfiguration) (*lambda.UpdateFunctionConfigurationInput, []string) {
	in := &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String(name), RevisionId: nonEmpty(c.RevisionId)}
	var changed []string
	strDiff := func(field string, want *string, have string, set func()) {
		if want != nil && *want != have {
			set()
			changed = append(changed, field)
		}
	}
	strDiff("runtime", s.runtime, string(c.Runtime), func() { in.Runtime = types.Runtime(*s.runtime) })
	strDiff("handler", s.handler, aws.ToString(c.Handler), func() { in.Handler = s.handler })
	strDiff("role", s.role, aws.ToString(c.Role), func() { in.Role = s.role })
	strDiff("description", s.description, aws.ToString(c.Description), func() { in.Description = s.description })
	strDiff("kmskeyArn", s.kms, aws.ToString(c.KMSKeyArn), func() { in.KMSKeyArn = s.kms })
	if s.memorySize != nil && *s.memorySize != aws.ToInt32(c.MemorySize) {
		in.MemorySize = s.memorySize
		changed = append(changed, "memorySize")
	}
	if s.timeout != nil && *s.timeout != aws.ToInt32(c.Timeout) {
		in.Timeout = s.timeout
		changed = append(changed, "timeout")
	}
	if s.ephemeralMB != nil {
		have := int32(512)
		if c.EphemeralStorage != nil {
			have = aws.ToInt32(c.EphemeralStorage.Size)
		}
		if have != *s.ephemeralMB {
			in.EphemeralStorage = &types.EphemeralStorage{Size: s.ephemeralMB}
			changed = append(changed, "ephemeralStorage")
		}
	}
	if s.envSet {
		var have map[string]string
		if c.Environment != nil {
			have = c.Environment.Variables
		}
		if !maps.Equal(emptyIfNil(have), emptyIfNil(s.env)) {
			in.Environment = &types.Environment{Variables: emptyIfNil(s.env)}
			changed = append(changed, "envVariables")
		}
	}
	if s.layersSet {
		var have []string
		for _, l := range c.Layers {
			have = append(have, aws.ToString(l.Arn))
		}
		if !slices.Equal(have, s.layers) && !(len(have) == 0 && len(s.layers) == 0) {
			in.Layers = append([]string{}, s.layers...)
			changed = append(changed, "layers")
		}
	}
	if s.vpcSet {
		var hs, hg []string
		if c.VpcConfig != nil {
			hs, hg = c.VpcConfig.SubnetIds, c.VpcConfig.SecurityGroupIds
		}
		if !sameSet(hs, s.subnets) || !sameSet(hg, s.sgs) {
			in.VpcConfig = &types.VpcConfig{SubnetIds: append([]string{}, s.subnets...), SecurityGroupIds: append([]string{}, s.sgs...)}
			changed = append(changed, "subnetIds/securityGroupIds")
		}
	}
	if s.deadLetterTarget != nil {
		have := ""
		if c.DeadLetterConfig != nil {
			have = aws.ToString(c.DeadLetterConfig.TargetArn)
		}
		if have != *s.deadLetterTarget {
			in.DeadLetterConfig = &types.DeadLetterConfig{TargetArn: s.deadLetterTarget}
			changed = append(changed, "deadLetterConfig")
		}
	}
	if s.tracingMode != nil {
		have := "PassThrough"
		if c.TracingConfig != nil && c.TracingConfig.Mode != "" {
			have = string(c.TracingConfig.Mode)
		}
		if have != *s.tracingMode {
			in.TracingConfig = &types.TracingConfig{Mode: types.TracingMode(*s.tracingMode)}
			changed = append(changed, "tracingConfig")
		}
	}
	if len(changed) == 0 {
		return nil, nil
	}
	return in, changed
}

func emptyIfNil(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	sort.Strings(a)
	sort.Strings(b)
	return slices.Equal(a, b)
}

// fingerprint is what a published version copies from $LATEST: code and
// configuration (the description excluded — PublishVersion sets its own).
// Two equal fingerprints mean publishing would add nothing.
func fingerprint(c *types.FunctionConfiguration) string {
	var b strings.Builder
	w := func(k string, v any) { fmt.Fprintf(&b, "%s=%v\n", k, v) }
	w("code", aws.ToString(c.CodeSha256))
	w("package", cmpOr(string(c.PackageType), string(types.PackageTypeZip)))
	w("runtime", c.Runtime)
	w("handler", aws.ToString(c.Handler))
	w("role", aws.ToString(c.Role))
	w("memory", aws.ToInt32(c.MemorySize))
	w("timeout", aws.ToInt32(c.Timeout))
	w("kms", aws.ToString(c.KMSKeyArn))
	arch := []types.Architecture{types.ArchitectureX8664}
	if len(c.Architectures) > 0 {
		arch = c.Architectures
	}
	w("arch", arch)
	if c.Environment != nil {
		for _, k := range slices.Sorted(maps.Keys(c.Environment.Variables)) {
			w("env."+k, c.Environment.Variables[k])
		}
	}
	for _, l := range c.Layers {
		w("layer", aws.ToString(l.Arn))
	}
	ephemeral := int32(512)
	if c.EphemeralStorage != nil && c.EphemeralStorage.Size != nil {
		ephemeral = *c.EphemeralStorage.Size
	}
	w("ephemeral", ephemeral)
	if c.DeadLetterConfig != nil && aws.ToString(c.DeadLetterConfig.TargetArn) != "" {
		w("dlq", aws.ToString(c.DeadLetterConfig.TargetArn))
	}
	tracing := types.TracingModePassThrough
	if c.TracingConfig != nil && c.TracingConfig.Mode != "" {
		tracing = c.TracingConfig.Mode
	}
	w("tracing", tracing)
	var subnets, sgs []string
	if c.VpcConfig != nil {
		subnets, sgs = c.VpcConfig.SubnetIds, c.VpcConfig.SecurityGroupIds
	}
	w("subnets", slices.Sorted(slices.Values(subnets)))
	w("sgs", slices.Sorted(slices.Values(sgs)))
	if c.ImageConfigResponse != nil && c.ImageConfigResponse.ImageConfig != nil {
		ic := c.ImageConfigResponse.ImageConfig
		w("image", fmt.Sprint(ic.Command, ic.EntryPoint, aws.ToString(ic.WorkingDirectory)))
	}
	return b.String()
}
