package pipeline

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// Artifact is a Spinnaker artifact (kork's Artifact): type, name,
// version, location, reference, artifactAccount, … kept as written so
// that every field travels with it.
type Artifact = map[string]any

// ArtifactString is the string field key of a (nil for none).
func ArtifactString(a Artifact, key string) string {
	s, _ := a[key].(string)
	return s
}

// ExpectedArtifact is one entry of a pipeline's expectedArtifacts (kork's
// ExpectedArtifact).
type ExpectedArtifact struct {
	ID          string `json:"id"`
	DisplayName string `json:"displayName,omitempty"`
	// MatchArtifact's type, name, version, location and reference are
	// regular expressions an artifact's fields must match whole; an
	// empty one matches anything. Like kork, artifactAccount is not
	// compared.
	MatchArtifact      Artifact `json:"matchArtifact,omitempty"`
	UsePriorArtifact   bool     `json:"usePriorArtifact,omitempty"`
	UseDefaultArtifact bool     `json:"useDefaultArtifact,omitempty"`
	DefaultArtifact    Artifact `json:"defaultArtifact,omitempty"`
	// BoundArtifact is the artifact resolution bound to it.
	BoundArtifact Artifact `json:"boundArtifact,omitempty"`
}

// matchedFields are the matchArtifact fields kork compares.
var matchedFields = []string{"type", "name", "version", "location", "reference"}

// String names the expected artifact in messages.
func (e *ExpectedArtifact) String() string {
	if e.DisplayName != "" && e.DisplayName != e.ID {
		return fmt.Sprintf("%q (%s)", e.ID, e.DisplayName)
	}
	return fmt.Sprintf("%q", e.ID)
}

// Matches reports whether a matches e's matchArtifact: every non-empty
// field (type, name, version, location, reference) is a regular
// expression that a's field matches whole (kork's ExpectedArtifact.matches).
// A bad expression matches nothing; Validate rejects it.
func (e *ExpectedArtifact) Matches(a Artifact) bool {
	for _, f := range matchedFields {
		want := ArtifactString(e.MatchArtifact, f)
		if want == "" {
			continue
		}
		got, ok := a[f].(string)
		if !ok {
			return false
		}
		re, err := regexp.Compile(`^(?:` + want + `)$`)
		if err != nil || !re.MatchString(got) {
			return false
		}
	}
	return true
}

// ExpectedArtifacts reads the document's expectedArtifacts. Problems
// name the field at fault.
func (p *Pipeline) ExpectedArtifacts() ([]ExpectedArtifact, []Problem) {
	raw, ok := p.Extra["expectedArtifacts"]
	if !ok || raw == nil {
		return nil, nil
	}
	list, ok := raw.([]any)
	if !ok {
		return nil, []Problem{{Path: "expectedArtifacts", Msg: "must be a list of {id, matchArtifact, …} objects, got " + describe(raw)}}
	}
	var out []ExpectedArtifact
	var problems []Problem
	seen := map[string]int{}
	for i, item := range list {
		path := fmt.Sprintf("expectedArtifacts[%d]", i)
		b, _ := json.Marshal(item)
		var e ExpectedArtifact
		if _, isObj := item.(map[string]any); !isObj {
			problems = append(problems, Problem{Path: path, Msg: "must be an object {id, matchArtifact, …}, got " + describe(item)})
			continue
		}
		if err := json.Unmarshal(b, &e); err != nil {
			problems = append(problems, Problem{Path: path, Msg: "has a field of the wrong type: " + err.Error()})
			continue
		}
		switch j, dup := seen[e.ID]; {
		case strings.TrimSpace(e.ID) == "":
			problems = append(problems, Problem{Path: path + ".id", Msg: `missing id; set "id", which triggers (expectedArtifactIds) and stages ({"id": …}) use to name this artifact`})
		case dup:
			problems = append(problems, Problem{Path: path + ".id", Msg: fmt.Sprintf("duplicate id %q, also used by expectedArtifacts[%d]", e.ID, j)})
		default:
			seen[e.ID] = i
		}
		for _, f := range matchedFields {
			v, present := e.MatchArtifact[f]
			if !present || v == nil {
				continue
			}
			s, isStr := v.(string)
			if !isStr {
				problems = append(problems, Problem{Path: path + ".matchArtifact." + f, Msg: "must be a string (a regular expression), got " + describe(v)})
				continue
			}
			if _, err := regexp.Compile(`^(?:` + s + `)$`); err != nil {
				problems = append(problems, Problem{Path: path + ".matchArtifact." + f, Msg: fmt.Sprintf("%q is not a valid regular expression: %v", s, err)})
			}
		}
		if e.UseDefaultArtifact && len(e.DefaultArtifact) == 0 {
			problems = append(problems, Problem{Path: path + ".defaultArtifact", Msg: "useDefaultArtifact is true but there is no defaultArtifact; give one {type, reference, …} or set useDefaultArtifact to false"})
		}
		out = append(out, e)
	}
	return out, problems
}

// ArtifactResolution is what ResolveArtifacts binds (Orca's
// ArtifactResolver.ResolveResult).
type ArtifactResolution struct {
	// Artifacts are the received artifacts followed by the resolved
	// ones not among them: the execution's trigger.artifacts.
	Artifacts []Artifact
	// Expected are the resolved expected artifacts, each with its
	// BoundArtifact: trigger.resolvedExpectedArtifacts.
	Expected []ExpectedArtifact
}

// UnmatchedArtifactError is the error of an expected artifact nothing
// matches (Orca: "Unmatched expected artifact … could not be resolved.").
type UnmatchedArtifactError struct {
	Expected *ExpectedArtifact
	Received int
}

func (e *UnmatchedArtifactError) Error() string {
	var alt []string
	if e.Expected.UsePriorArtifact {
		alt = append(alt, "nor in the last execution of this pipeline")
	}
	hint := "pass a matching artifact with the trigger"
	if !e.Expected.UseDefaultArtifact {
		hint += ", or give it a defaultArtifact with useDefaultArtifact"
	}
	m, _ := json.Marshal(e.Expected.MatchArtifact)
	return fmt.Sprintf("unmatched expected artifact %s could not be resolved: none of the %d trigger artifacts matches %s%s; %s",
		e.Expected, e.Received, m, strings.Join(append([]string{""}, alt...), ", "), hint)
}

// AmbiguousArtifactError is the error of an expected artifact that
// matches more than one artifact (Orca resolves with requireUniqueMatches).
type AmbiguousArtifactError struct {
	Expected *ExpectedArtifact
	Matches  []Artifact
}

func (e *AmbiguousArtifactError) Error() string {
	refs := make([]string, len(e.Matches))
	for i, a := range e.Matches {
		refs[i] = ArtifactString(a, "type") + " " + ArtifactString(a, "reference")
	}
	return fmt.Sprintf("expected artifact %s matches %d artifacts (%s); it must match exactly one: narrow its matchArtifact",
		e.Expected, len(e.Matches), strings.Join(refs, ", "))
}

// ResolveArtifacts binds a pipeline's expected artifacts as Orca's
// ArtifactUtils.resolveArtifacts does. The expected artifacts resolved
// are those whose id is in ids, and those with usePriorArtifact or
// useDefaultArtifact; ids nil means every one (a manual trigger). Each is
// bound, in order, to the one received artifact it matches, else (with
// usePriorArtifact) the one artifact of the last execution of the same
// pipeline it matches — prior is called at most once, only if needed —
// else (with useDefaultArtifact) its defaultArtifact. One it cannot bind
// is an *UnmatchedArtifactError; one that matches more than one artifact
// in a step an *AmbiguousArtifactError.
func ResolveArtifacts(expected []ExpectedArtifact, ids []string, received []Artifact, prior func() ([]Artifact, error)) (*ArtifactResolution, error) {
	res := &ArtifactResolution{Artifacts: slices.Clone(received)}
	var priorList []Artifact
	priorRead := false
	for i := range expected {
		e := expected[i]
		if ids != nil && !slices.Contains(ids, e.ID) && !e.UsePriorArtifact && !e.UseDefaultArtifact {
			continue
		}
		bound, err := matchOne(&e, received)
		if err != nil {
			return nil, err
		}
		if bound == nil && e.UsePriorArtifact && prior != nil {
			if !priorRead {
				if priorList, err = prior(); err != nil {
					return nil, fmt.Errorf("expected artifact %s: read the last execution's artifacts: %w", &e, err)
				}
				priorRead = true
			}
			if bound, err = matchOne(&e, priorList); err != nil {
				return nil, err
			}
		}
		if bound == nil && e.UseDefaultArtifact && len(e.DefaultArtifact) > 0 {
			bound = e.DefaultArtifact
		}
		if bound == nil {
			return nil, &UnmatchedArtifactError{Expected: &e, Received: len(received)}
		}
		e.BoundArtifact = bound
		res.Expected = append(res.Expected, e)
		if !containsArtifact(res.Artifacts, bound) {
			res.Artifacts = append(res.Artifacts, bound)
		}
	}
	return res, nil
}

func matchOne(e *ExpectedArtifact, list []Artifact) (Artifact, error) {
	var matches []Artifact
	for _, a := range list {
		if e.Matches(a) {
			matches = append(matches, a)
		}
	}
	switch len(matches) {
	case 0:
		return nil, nil
	case 1:
		return matches[0], nil
	}
	return nil, &AmbiguousArtifactError{Expected: e, Matches: matches}
}

func containsArtifact(list []Artifact, a Artifact) bool {
	want, _ := json.Marshal(a)
	for _, b := range list {
		if got, _ := json.Marshal(b); string(got) == string(want) {
			return true
		}
	}
	return false
}

// ParseArtifacts reads a list of artifacts (a trigger's artifacts); path
// names the field in errors. Each must be an object with a string type.
func ParseArtifacts(path string, v any) ([]Artifact, error) {
	if v == nil {
		return nil, nil
	}
	list, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("%s must be a list of artifacts {type, reference, …}, got %s", path, describe(v))
	}
	out := make([]Artifact, 0, len(list))
	for i, item := range list {
		a, ok := item.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%s[%d] must be an artifact object {type, reference, …}, got %s", path, i, describe(item))
		}
		for _, f := range append(slices.Clone(matchedFields), "artifactAccount") {
			if x, present := a[f]; present && x != nil {
				if _, isStr := x.(string); !isStr {
					return nil, fmt.Errorf("%s[%d].%s must be a string, got %s", path, i, f, describe(x))
				}
			}
		}
		if ArtifactString(a, "type") == "" {
			return nil, fmt.Errorf("%s[%d].type is required (e.g. s3/object, embedded/base64, http/file, github/file)", path, i)
		}
		out = append(out, a)
	}
	return out, nil
}
