package lambda

import (
	"context"
	"reflect"
	"time"
	"unicode"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/sluice-cd/sluice/internal/stage"
)

// taskOutput is Deploy's last task, Orca's LambdaOutputTask: it writes
// lambdaObject.
const taskOutput = "lambdaOutput"

// deployOutput writes lambdaObject, the function as Clouddriver caches
// it and Orca's LambdaOutputTask copies it into the outputs: $LATEST's
// configuration under Clouddriver's (Jackson's) names — functionName,
// functionArn, runtime, memorySize, revisionId, vpcConfig, … — with
// cloudProvider, account and region, revisions (RevisionId → version),
// aliasConfigurations, eventSourceMappings (of the function and of each
// alias), tags, and concurrency, all read fresh.
func deployOutput(ctx context.Context, _ *stage.Task, f *function, _ *deploySpec) (stage.Result, error) {
	out, found, err := getFunction(ctx, f)
	if err != nil {
		return stage.Result{}, err
	}
	if !found {
		return stage.Result{}, fail("%s does not exist (was it deleted while the stage ran?)", f)
	}
	obj, _ := beanValue(out.Configuration).(map[string]any)
	if obj == nil {
		obj = map[string]any{}
	}
	obj["cloudProvider"], obj["account"], obj["region"] = "aws", f.acct.Name, f.acct.Region
	obj["tags"] = toAnyMap(out.Tags)
	if out.Concurrency != nil {
		obj["concurrency"] = beanValue(out.Concurrency)
	}
	if out.Code != nil {
		obj["code"] = beanValue(out.Code)
	}

	revisions := map[string]any{}
	vp := lambda.NewListVersionsByFunctionPaginator(f.c, &lambda.ListVersionsByFunctionInput{FunctionName: aws.String(f.name)})
	for vp.HasMorePages() {
		page, err := vp.NextPage(ctx)
		if err != nil {
			return stage.Result{}, apiError(f, "ListVersionsByFunction", err)
		}
		for _, v := range page.Versions {
			revisions[aws.ToString(v.RevisionId)] = aws.ToString(v.Version)
		}
	}
	obj["revisions"] = revisions

	fnARN := unqualifiedARN(aws.ToString(out.Configuration.FunctionArn))
	targets := []string{fnARN}
	aliases := []any{}
	ap := lambda.NewListAliasesPaginator(f.c, &lambda.ListAliasesInput{FunctionName: aws.String(f.name)})
	for ap.HasMorePages() {
		page, err := ap.NextPage(ctx)
		if err != nil {
			return stage.Result{}, apiError(f, "ListAliases", err)
		}
		for _, a := range page.Aliases {
			aliases = append(aliases, beanValue(a))
			targets = append(targets, fnARN+":"+aws.ToString(a.Name))
		}
	}
	obj["aliasConfigurations"] = aliases

	mappings := []any{}
	for _, target := range targets {
		mp := lambda.NewListEventSourceMappingsPaginator(f.c, &lambda.ListEventSourceMappingsInput{FunctionName: aws.String(target)})
		for mp.HasMorePages() {
			page, err := mp.NextPage(ctx)
			if err != nil {
				return stage.Result{}, apiError(f, "ListEventSourceMappings", err)
			}
			for _, m := range page.EventSourceMappings {
				if aws.ToString(m.FunctionArn) == target {
					mappings = append(mappings, beanValue(m))
				}
			}
		}
	}
	obj["eventSourceMappings"] = mappings
	return stage.Succeed().WithOutputs(map[string]any{"lambdaObject": obj}), nil
}

// beanValue is an AWS SDK value as Clouddriver's JSON shows the AWS SDK
// for Java's objects: structs become maps keyed by Jackson's property
// names (beanName), nil and empty values are left out, maps keep their
// keys, enums are their strings, times are epoch milliseconds.
func beanValue(v any) any {
	return beanOf(reflect.ValueOf(v))
}

func beanOf(v reflect.Value) any {
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() {
			return nil
		}
		v = v.Elem()
	}
	if t, ok := v.Interface().(time.Time); ok {
		return t.UnixMilli() // Jackson writes a Date as epoch milliseconds
	}
	switch v.Kind() {
	case reflect.Struct:
		out := map[string]any{}
		for i := range v.NumField() {
			sf := v.Type().Field(i)
			if !sf.IsExported() {
				continue
			}
			if x := beanOf(v.Field(i)); x != nil {
				out[beanName(sf.Name)] = x
			}
		}
		return out
	case reflect.Map:
		if v.Len() == 0 {
			return nil
		}
		out := map[string]any{}
		iter := v.MapRange()
		for iter.Next() {
			out[iter.Key().String()] = beanOf(iter.Value())
		}
		return out
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 || v.Len() == 0 {
			return nil // no blobs
		}
		out := make([]any, v.Len())
		for i := range v.Len() {
			out[i] = beanOf(v.Index(i))
		}
		return out
	case reflect.String:
		if v.String() == "" {
			return nil
		}
		return v.String()
	case reflect.Bool:
		return v.Bool()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return v.Int()
	case reflect.Float32, reflect.Float64:
		return v.Float()
	}
	return nil
}

// beanName is Jackson's property name for a Java getter's name: the
// leading capitals lower-cased (FunctionArn → functionArn, KMSKeyArn →
// kmskeyArn, CodeSha256 → codeSha256).
func beanName(s string) string {
	r := []rune(s)
	for i := 0; i < len(r) && unicode.IsUpper(r[i]); i++ {
		r[i] = unicode.ToLower(r[i])
	}
	return string(r)
}
