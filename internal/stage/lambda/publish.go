package lambda

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// readyForUpdate reads $LATEST and returns it when a change may be made:
// not Pending and no update in progress. A Failed function may be
// changed (new code can fix it).
func readyForUpdate(ctx context.Context, f *function) (*lambda.GetFunctionOutput, error) {
	out, found, err := getFunction(ctx, f)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, fail("%s does not exist; deploy it first with %s (which creates it)", f, DeployTypeName)
	}
	c := out.Configuration
	if c.State == types.StatePending || c.LastUpdateStatus == types.LastUpdateStatusInProgress {
		return nil, retry("waiting for %s to finish its current change before changing it: %s", f, stateMessage(c))
	}
	return out, nil
}

// updateCode brings $LATEST's code (and architecture, which only changes
// with code) to code. A zip is compared by CodeSha256 and an image by URI,
// and nothing is sent when they match; an S3 object's digest is known
// only to Lambda, so it is always sent — uploading the same bytes again
// changes no CodeSha256 and so publishes nothing. It reports whether it
// called UpdateFunctionCode.
func updateCode(ctx context.Context, f *function, code *codeSource, arch []types.Architecture) (bool, error) {
	out, err := readyForUpdate(ctx, f)
	if err != nil {
		return false, err
	}
	c := out.Configuration
	zip, sha, err := code.load()
	if err != nil {
		return false, err
	}
	if codeMatches(out, code, sha, arch) {
		return false, nil
	}
	in := &lambda.UpdateFunctionCodeInput{
		FunctionName: aws.String(f.name),
		RevisionId:   nonEmpty(c.RevisionId),
		ZipFile:      zip,
	}
	if len(arch) > 0 {
		in.Architectures = arch
	}
	switch {
	case code.imageURI != "":
		in.ImageUri = aws.String(code.imageURI)
	case zip == nil:
		in.S3Bucket, in.S3Key = aws.String(code.s3Bucket), aws.String(code.s3Key)
		if code.s3Version != "" {
			in.S3ObjectVersion = aws.String(code.s3Version)
		}
	}
	if _, err := f.c.UpdateFunctionCode(ctx, in); err != nil {
		return false, apiError(f, fmt.Sprintf("UpdateFunctionCode (%s)", code), err)
	}
	return true, nil
}

// codeMatches reports whether the function (out) already has code (whose
// zip's CodeSha256 is sha, "" when only Lambda knows it) with
// architecture arch: a zip compared by CodeSha256, an image by URI. An S3
// object never matches: its digest is known only to Lambda.
func codeMatches(out *lambda.GetFunctionOutput, code *codeSource, sha string, arch []types.Architecture) bool {
	c := out.Configuration
	archSame := len(arch) == 0 || slices.Equal(arch, c.Architectures) ||
		(len(c.Architectures) == 0 && arch[0] == types.ArchitectureX8664)
	if !archSame {
		return false
	}
	switch {
	case sha != "" && sha == aws.ToString(c.CodeSha256):
		return true
	case code.imageURI != "" && out.Code != nil && aws.ToString(out.Code.ImageUri) == code.imageURI:
		return true
	}
	return false
}

// publishOnce publishes $LATEST as a version unless the newest published
// version already has the same code and configuration, in which case it
// returns that version. PublishVersion carries $LATEST's RevisionId and
// CodeSha256 as preconditions, so a change made meanwhile by someone else
// is never published under this stage's name: the task re-reads and
// decides again. A re-run after a crash between PublishVersion and the
// recording of its result finds the version it published and returns it.
func publishOnce(ctx context.Context, f *function, description *string) (version string, published bool, err error) {
	out, err := readyForUpdate(ctx, f)
	if err != nil {
		return "", false, err
	}
	latest := out.Configuration
	if latest.State == types.StateFailed || latest.LastUpdateStatus == types.LastUpdateStatusFailed {
		return "", false, fail("%s cannot be published: %s", f, stateMessage(latest))
	}
	versions, _, err := publishedVersions(ctx, f)
	if err != nil {
		return "", false, err
	}
	if n := len(versions); n > 0 {
		newest := strconv.Itoa(versions[n-1])
		nc, err := f.c.GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{
			FunctionName: aws.String(f.name), Qualifier: aws.String(newest)})
		switch {
		case err == nil:
			if fingerprint(functionConfiguration(nc)) == fingerprint(latest) {
				return newest, false, nil
			}
		case isNotFound(err):
			return "", false, retry("version %s of %s vanished while it was read", newest, f)
		default:
			return "", false, apiError(f, "GetFunctionConfiguration", err)
		}
	}
	pv, err := f.c.PublishVersion(ctx, &lambda.PublishVersionInput{
		FunctionName: aws.String(f.name),
		CodeSha256:   nonEmpty(latest.CodeSha256),
		RevisionId:   nonEmpty(latest.RevisionId),
		Description:  nonEmpty(description),
	})
	if err != nil {
		return "", false, apiError(f, "PublishVersion", err)
	}
	version = aws.ToString(pv.Version)
	n, _ := strconv.Atoi(version)
	return version, !slices.Contains(versions, n), nil
}

// versionGone reports whether a version no longer exists
// (GetFunctionConfiguration answers 404).
func versionGone(ctx context.Context, f *function, version string) (bool, error) {
	_, err := f.c.GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{
		FunctionName: aws.String(f.name), Qualifier: aws.String(version)})
	if err == nil {
		return false, nil
	}
	if isNotFound(err) {
		return true, nil
	}
	return false, apiError(f, "GetFunctionConfiguration", err)
}

// deleteVersion deletes one published version. gone reports that it did
// not exist (AWS answers a delete of a missing version with success, so it
// is checked first). A version an alias still references is refused by
// AWS; the caller checks aliases first, and a race ends in a failure that
// names the aliases.
func deleteVersion(ctx context.Context, f *function, version string) (gone bool, err error) {
	if gone, err := versionGone(ctx, f, version); err != nil || gone {
		return gone, err
	}
	_, err = f.c.DeleteFunction(ctx, &lambda.DeleteFunctionInput{FunctionName: aws.String(f.name), Qualifier: aws.String(version)})
	switch {
	case err == nil:
		return false, nil
	case isNotFound(err):
		return true, nil
	case isConflict(err):
		return false, fail("version %s of %s cannot be deleted: %v; point the alias at another version first", version, f, err)
	}
	return false, apiError(f, fmt.Sprintf("DeleteFunction (version %s)", version), err)
}

// fingerprint is what a published version copies from $LATEST: code and
// configuration (the description excluded — PublishVersion sets its own).
// Two equal fingerprints mean publishing would add nothing.
func fingerprint(c *types.FunctionConfiguration) string {
	var b strings.Builder
	w := func(k string, v any) { fmt.Fprintf(&b, "%s=%v\n", k, v) }
	w("code", aws.ToString(c.CodeSha256))
	w("package", cmp.Or(string(c.PackageType), string(types.PackageTypeZip)))
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
