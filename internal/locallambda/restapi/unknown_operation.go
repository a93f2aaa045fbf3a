package restapi

import (
	"net/http"
	"slices"
	"strings"

	"github.com/sluice-cd/sluice/internal/locallambda/awserr"
)

// UnknownOperation answers a Lambda API request that no route takes: an
// InvalidParameterValueException naming the feature, for the features the
// local Lambda does not have, else a 404 UnknownOperationException naming
// the method and path.
func UnknownOperation(w http.ResponseWriter, r *http.Request) {
	awserr.Write(w, unknownOperation(r.Method, r.URL.EscapedPath()))
}

// unknownOperation names the Lambda features the local Lambda does not
// have, by the API version date that carries them (and a path word where
// one date carries several).
func unknownOperation(method, escapedPath string) error {
	segs := strings.Split(strings.Trim(escapedPath, "/"), "/")
	has := func(word string) bool { return slices.Contains(segs[1:], word) }
	feature := ""
	switch segs[0] {
	case "2014-11-13":
		feature = "InvokeAsync (deprecated; use Invoke with InvocationType Event) is"
	case "2018-10-31":
		feature = "Layers are"
	case "2019-09-30":
		if has("provisioned-concurrency") {
			feature = "Provisioned concurrency is"
		}
	case "2020-04-22", "2020-06-30":
		feature = "Code signing is"
	case "2021-07-20":
		feature = "Runtime management configuration is"
	case "2021-10-31":
		feature = "Function URLs are"
	case "2021-11-15":
		feature = "InvokeWithResponseStream is"
	case "2024-08-31":
		feature = "Recursive loop detection configuration is"
	case "2025-11-30":
		feature = "Capacity providers (Lambda Managed Instances) are"
	case "2025-12-01":
		feature = "Durable executions are"
	case "2026-07-09":
		feature = "Resource policies are"
	}
	if feature != "" {
		return awserr.InvalidParameter("%s not supported by the local Lambda.", feature)
	}
	return awserr.Errorf(http.StatusNotFound, awserr.TypeUnknownOperation, "The local Lambda does not implement %s %s.", method, escapedPath)
}
