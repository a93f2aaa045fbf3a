package lambda

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
)

// Version selectors, as the plugin's stages write them. $LATEST is
// Spinnaker's meaning — the newest published version — not AWS's $LATEST
// (the unpublished head).
const (
	SelectorLatest   = "$LATEST"   // the newest published version
	SelectorPrevious = "$PREVIOUS" // the second newest
	SelectorOldest   = "$OLDEST"   // the oldest
	SelectorMoving   = "$MOVING"   // all but the newest retentionNumber
	SelectorProvided = "$PROVIDED" // the version given in a second field
	SelectorAll      = "$ALL"      // the whole function (Delete only)
)

// Selector names published versions of a function.
type Selector struct {
	// Name is one of the Selector* constants, or "" for a literal number.
	Name string
	// Version is the literal version (Name "") or $PROVIDED's version.
	Version string
	// Retention is how many of the newest versions $MOVING keeps.
	Retention int
}

func (s Selector) String() string {
	switch s.Name {
	case "":
		return "version " + s.Version
	case SelectorProvided:
		return fmt.Sprintf("%s (version %s)", s.Name, s.Version)
	case SelectorMoving:
		return fmt.Sprintf("%s (retentionNumber %d)", s.Name, s.Retention)
	}
	return s.Name
}

// ParseSelector reads a selector: name is the selector field's value
// ($LATEST, $PREVIOUS, $OLDEST, $MOVING, $PROVIDED, $ALL, or a version
// number), provided the $PROVIDED version, retention $MOVING's
// retentionNumber. Errors say what is wrong without naming the field; the
// caller adds it.
func ParseSelector(name, provided string, retention int64) (Selector, error) {
	name = strings.TrimSpace(name)
	switch strings.ToUpper(name) {
	case "":
		return Selector{}, fmt.Errorf("is required: %s", selectorChoices)
	case SelectorLatest, SelectorPrevious, SelectorOldest, SelectorAll:
		return Selector{Name: strings.ToUpper(name)}, nil
	case SelectorMoving:
		if retention < 1 {
			return Selector{}, fmt.Errorf("%s needs retentionNumber, the number of newest versions to keep (at least 1)", SelectorMoving)
		}
		return Selector{Name: SelectorMoving, Retention: int(retention)}, nil
	case SelectorProvided:
		v := strings.TrimSpace(provided)
		if !isVersionNumber(v) {
			if v == "" {
				return Selector{}, fmt.Errorf("%s needs the version number in its version number field", SelectorProvided)
			}
			return Selector{}, fmt.Errorf("%s needs a published version number, not %q", SelectorProvided, v)
		}
		return Selector{Name: SelectorProvided, Version: normalizeVersion(v)}, nil
	}
	if isVersionNumber(name) {
		return Selector{Version: normalizeVersion(name)}, nil
	}
	return Selector{}, fmt.Errorf("%q is not a version selector: %s", name, selectorChoices)
}

const selectorChoices = "use $LATEST (newest published version), $PREVIOUS, $OLDEST, $MOVING with retentionNumber, $PROVIDED with a version number, $ALL, or a version number such as 3"

func isVersionNumber(s string) bool {
	n, err := strconv.ParseUint(s, 10, 64)
	return err == nil && n > 0
}

func normalizeVersion(s string) string {
	n, _ := strconv.ParseUint(s, 10, 64)
	return strconv.FormatUint(n, 10)
}

// UnresolvedError is a selector that names no version of the function.
type UnresolvedError struct {
	Selector Selector
	Function string
	Versions []int // the published versions that exist, ascending
}

func (e *UnresolvedError) Error() string {
	return fmt.Sprintf("%s names no version of %s: %s", e.Selector, e.Function, describeVersions(e.Versions))
}

func describeVersions(vs []int) string {
	if len(vs) == 0 {
		return "it has no published versions (publish one first)"
	}
	s := make([]string, len(vs))
	for i, v := range vs {
		s[i] = strconv.Itoa(v)
	}
	return "its published versions are " + strings.Join(s, ", ")
}

// Resolve returns the versions s names among versions (published,
// ascending), newest first for $MOVING. A literal or $PROVIDED version is
// returned as given when mustExist is false (a delete of a version that is
// gone succeeds); otherwise it must be among versions. $MOVING with no
// more than retention versions names none, which is not an error. $ALL
// resolves to ["$ALL"].
func (s Selector) Resolve(function string, versions []int, mustExist bool) ([]string, error) {
	unresolved := &UnresolvedError{Selector: s, Function: function, Versions: versions}
	n := len(versions)
	switch s.Name {
	case SelectorAll:
		return []string{SelectorAll}, nil
	case SelectorLatest:
		if n == 0 {
			return nil, unresolved
		}
		return []string{strconv.Itoa(versions[n-1])}, nil
	case SelectorPrevious:
		if n < 2 {
			return nil, unresolved
		}
		return []string{strconv.Itoa(versions[n-2])}, nil
	case SelectorOldest:
		if n == 0 {
			return nil, unresolved
		}
		return []string{strconv.Itoa(versions[0])}, nil
	case SelectorMoving:
		var out []string
		for i := n - 1 - s.Retention; i >= 0; i-- {
			out = append(out, strconv.Itoa(versions[i]))
		}
		return out, nil
	}
	if mustExist {
		v, _ := strconv.Atoi(s.Version)
		if i := sort.SearchInts(versions, v); i >= n || versions[i] != v {
			return nil, unresolved
		}
	}
	return []string{s.Version}, nil
}

// publishedVersions lists the function's published version numbers,
// ascending, from a fresh ListVersionsByFunction (all pages). found is
// false when the function does not exist.
func publishedVersions(ctx context.Context, f *function) (versions []int, found bool, err error) {
	p := lambda.NewListVersionsByFunctionPaginator(f.c, &lambda.ListVersionsByFunctionInput{
		FunctionName: aws.String(f.name)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			if isNotFound(err) {
				return nil, false, nil
			}
			return nil, false, apiError(f, "ListVersionsByFunction", err)
		}
		for _, v := range page.Versions {
			if n, err := strconv.Atoi(aws.ToString(v.Version)); err == nil {
				versions = append(versions, n)
			}
		}
	}
	sort.Ints(versions)
	return versions, true, nil
}

// aliasUsage maps each version to the aliases that route to it (as their
// version or their additional weighted version), from a fresh ListAliases.
func aliasUsage(ctx context.Context, f *function) (map[string][]string, error) {
	use := map[string][]string{}
	p := lambda.NewListAliasesPaginator(f.c, &lambda.ListAliasesInput{FunctionName: aws.String(f.name)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			if isNotFound(err) {
				return use, nil
			}
			return nil, apiError(f, "ListAliases", err)
		}
		for _, a := range page.Aliases {
			name := aws.ToString(a.Name)
			use[aws.ToString(a.FunctionVersion)] = append(use[aws.ToString(a.FunctionVersion)], name)
			if a.RoutingConfig != nil {
				for v := range a.RoutingConfig.AdditionalVersionWeights {
					use[v] = append(use[v], name)
				}
			}
		}
	}
	for v := range use {
		sort.Strings(use[v])
	}
	return use, nil
}
