package control

import (
	"regexp"
	"strings"
	"sync"

	"github.com/sluice-cd/sluice/internal/locallambda/awserr"
)

// The FunctionName pattern of the Lambda model, as AWS quotes it in its
// validation messages.
const functionNamePattern = `(arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}(-gov)?-[a-z]+-\d{1}:)?(\d{12}:)?(function:)?([a-zA-Z0-9-_]+)(:(\$LATEST|[a-zA-Z0-9-_]+))?`

var (
	// arn:PARTITION:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]
	fullFunctionARN = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^arn:(aws[a-zA-Z-]*):lambda:([a-z]{2}(?:-gov)?-[a-z]+-\d):(\d{12}):function:([a-zA-Z0-9-_]+)(?::(\$LATEST|[a-zA-Z0-9-_]+))?$`)
	})
	// ACCOUNT:function:NAME[:QUALIFIER]
	partialFunctionARN = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^(\d{12}):function:([a-zA-Z0-9-_]+)(?::(\$LATEST|[a-zA-Z0-9-_]+))?$`)
	})
	// NAME[:QUALIFIER]
	bareFunctionName = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^([a-zA-Z0-9-_]+)(?::(\$LATEST|[a-zA-Z0-9-_]+))?$`) })

	aliasNamePattern = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-zA-Z0-9-_]+$`) })
	versionNumber    = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[0-9]+$`) })
	qualifierPattern = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-zA-Z0-9$_-]+$`) })
	roleARNPattern   = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^arn:(aws[a-zA-Z-]*)?:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+$`)
	})
	envVarNamePattern = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-zA-Z]([a-zA-Z0-9_])+$`) })
	esmResourceARN    = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^arn:(aws[a-zA-Z-]*):lambda:([a-z]{2}(?:-gov)?-[a-z]+-\d):(\d{12}):event-source-mapping:([0-9a-f-]{36})$`)
	})
	genericARNPattern = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^arn:(aws[a-zA-Z0-9-]*):([a-zA-Z0-9-]+):([a-z0-9-]*):(\d{12})?:(.+)$`)
	})
	destinationService = map[string]bool{"sqs": true, "sns": true, "lambda": true, "events": true}
)

// arns formats and parses the ARNs of one local Lambda: one region, one
// account, partition "aws".
type arns struct {
	region, account string
}

// function is the unqualified ARN of a function.
func (a arns) function(name string) string {
	return "arn:aws:lambda:" + a.region + ":" + a.account + ":function:" + name
}

// qualified is the ARN of a function with a qualifier; an empty qualifier
// gives the unqualified ARN.
func (a arns) qualified(name, qualifier string) string {
	if qualifier == "" {
		return a.function(name)
	}
	return a.function(name) + ":" + qualifier
}

func (a arns) eventSourceMapping(uuid string) string {
	return "arn:aws:lambda:" + a.region + ":" + a.account + ":event-source-mapping:" + uuid
}

// functionRef is a FunctionName as the API accepts it, taken apart.
type functionRef struct {
	Name      string
	Qualifier string // "" when the name carries none
}

// parseFunctionName accepts every form the API accepts — a name, a partial
// ARN (ACCOUNT:function:NAME) or a full ARN, each optionally ending in
// ":qualifier" — and returns the plain name. An ARN of another region or
// account names a function this endpoint cannot have: not found, as AWS
// answers for a function missing in the region asked.
func (a arns) parseFunctionName(raw string) (functionRef, error) {
	if raw == "" {
		return functionRef{}, awserr.Validation("null", "functionName", "Member must not be null")
	}
	if len(raw) > 170 {
		return functionRef{}, awserr.Validation(raw, "functionName", "Member must have length less than or equal to 170")
	}
	var ref functionRef
	var region, account string
	switch {
	case strings.HasPrefix(raw, "arn:"):
		m := fullFunctionARN().FindStringSubmatch(raw)
		if m == nil {
			return functionRef{}, awserr.Validation(raw, "functionName", "Member must satisfy regular expression pattern: "+functionNamePattern)
		}
		region, account, ref.Name, ref.Qualifier = m[2], m[3], m[4], m[5]
	case partialFunctionARN().MatchString(raw):
		m := partialFunctionARN().FindStringSubmatch(raw)
		account, ref.Name, ref.Qualifier = m[1], m[2], m[3]
	default:
		m := bareFunctionName().FindStringSubmatch(raw)
		if m == nil {
			return functionRef{}, awserr.Validation(raw, "functionName", "Member must satisfy regular expression pattern: "+functionNamePattern)
		}
		ref.Name, ref.Qualifier = m[1], m[2]
	}
	if len(ref.Name) > 64 {
		return functionRef{}, awserr.Validation(raw, "functionName", "Member must have length less than or equal to 64")
	}
	if (region != "" && region != a.region) || (account != "" && account != a.account) {
		return functionRef{}, awserr.ResourceNotFound("Function not found: %s (this local Lambda serves region %s, account %s)", raw, a.region, a.account)
	}
	return ref, nil
}

// mergeQualifier reconciles a qualifier carried in the function name with one
// given as the Qualifier parameter, as AWS does.
func mergeQualifier(fromName, fromParam string) (string, error) {
	if fromParam != "" && !qualifierPattern().MatchString(fromParam) {
		return "", awserr.Validation(fromParam, "qualifier", "Member must satisfy regular expression pattern: (|[a-zA-Z0-9$_-]+)")
	}
	if len(fromParam) > 128 {
		return "", awserr.Validation(fromParam, "qualifier", "Member must have length less than or equal to 128")
	}
	if fromName != "" && fromParam != "" && fromName != fromParam {
		return "", awserr.InvalidParameter("The derived qualifier from the function name does not match the specified qualifier.")
	}
	if fromName != "" {
		return fromName, nil
	}
	return fromParam, nil
}

// isVersionQualifier reports whether q names a published version.
func isVersionQualifier(q string) bool { return versionNumber().MatchString(q) }

// validAliasName reports whether name is an alias name the API accepts:
// 1–128 of [a-zA-Z0-9-_], not all digits (that would be a version).
func validAliasName(name string) bool {
	return len(name) >= 1 && len(name) <= 128 && aliasNamePattern().MatchString(name) && !versionNumber().MatchString(name)
}

// parsedARN is a generic ARN taken apart, for destination checks.
type parsedARN struct {
	Partition, Service, Region, Account, Resource string
}

func parseARN(s string) (parsedARN, bool) {
	m := genericARNPattern().FindStringSubmatch(s)
	if m == nil {
		return parsedARN{}, false
	}
	return parsedARN{Partition: m[1], Service: m[2], Region: m[3], Account: m[4], Resource: m[5]}, true
}
