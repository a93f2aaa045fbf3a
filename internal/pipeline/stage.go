package pipeline

// Stage is one entry of the pipeline's stages.
type Stage struct {
	RefID                string
	RequisiteStageRefIDs []string
	Name                 string
	Type                 string

	// StageEnabled, when set, makes the stage conditional: it runs only if
	// the expression evaluates to true, and is skipped otherwise.
	StageEnabled *StageEnabled

	// FailPipeline halts the whole pipeline when the stage fails. True when
	// the document leaves it out or writes null, as in Orca.
	FailPipeline bool
	// ContinuePipeline lets downstream stages run after a failure
	// (FAILED_CONTINUE).
	ContinuePipeline bool
	// CompleteOtherBranchesThenFail halts this branch on failure, lets the
	// others finish, then fails the pipeline.
	CompleteOtherBranchesThenFail bool
	// FailOnFailedExpressions fails the stage when one of its expressions
	// could not be evaluated.
	FailOnFailedExpressions bool
	// StageTimeoutMs overrides the stage's timeout; 0 means no override.
	StageTimeoutMs int64
	// RollbackOnFailure overrides the pipeline's RollbackOnFailure for this
	// stage; nil inherits it. A Sluice extension.
	RollbackOnFailure *bool

	// Fields is the whole stage object as written — every key, including
	// the typed ones above and keys Sluice does not know — with the
	// normalized values Parse wrote. It becomes the stage's context at run
	// time. MarshalJSON writes the typed fields over it.
	Fields map[string]any
}

// StageEnabled is a stage's "stageEnabled" condition.
type StageEnabled struct {
	// Type is "expression", the only type there is.
	Type string
	// Expression is written without ${…}, e.g. "parameters.deploy == 'true'".
	Expression string
}

// MarshalJSON emits the stage object: Fields with the typed fields written
// over it.
func (s Stage) MarshalJSON() ([]byte, error) {
	return encode(s.document())
}

// decodeStage reads the typed fields of a stage object. Values of the wrong
// JSON type leave the typed field at its default; Validate reports them.
func decodeStage(m map[string]any) *Stage {
	s := &Stage{Fields: m, FailPipeline: true, RequisiteStageRefIDs: []string{}}
	if isRef(m["refId"]) {
		s.RefID, _ = refString(m["refId"])
	}
	if reqs, ok := m["requisiteStageRefIds"].([]any); ok {
		for _, r := range reqs {
			if id, ok := refString(r); ok {
				s.RequisiteStageRefIDs = append(s.RequisiteStageRefIDs, id)
			}
		}
	}
	s.Type, _ = m["type"].(string)
	s.Name, _ = m["name"].(string)
	if s.Name == "" && isStringOrNull(m["name"]) {
		s.Name = s.Type
	}
	if se, ok := m["stageEnabled"].(map[string]any); ok && isStageEnabled(se) {
		s.StageEnabled = &StageEnabled{Type: "expression"}
		if t, _ := se["type"].(string); t != "" {
			s.StageEnabled.Type = t
		}
		s.StageEnabled.Expression, _ = se["expression"].(string)
	}
	if b, ok := m["failPipeline"].(bool); ok {
		s.FailPipeline = b
	}
	s.ContinuePipeline, _ = m["continuePipeline"].(bool)
	s.CompleteOtherBranchesThenFail, _ = m["completeOtherBranchesThenFail"].(bool)
	s.FailOnFailedExpressions, _ = m["failOnFailedExpressions"].(bool)
	if n, ok := asInt64(m["stageTimeoutMs"]); ok {
		s.StageTimeoutMs = n
	}
	if b, ok := m["rollbackOnFailure"].(bool); ok {
		s.RollbackOnFailure = &b
	}
	return s
}

// document returns the stage as a JSON-ready map: a copy of Fields with the
// typed fields written over every key whose value as written is well typed.
func (s *Stage) document() map[string]any {
	out := copyMap(s.Fields)
	// wellTyped reports whether key may be overwritten: absent, or written
	// with a value of the right JSON type.
	wellTyped := func(key string, ok func(any) bool) bool {
		v, present := s.Fields[key]
		return !present || ok(v)
	}

	if s.RefID != "" && wellTyped("refId", isRef) {
		out["refId"] = s.RefID
	}
	if wellTyped("requisiteStageRefIds", isRefList) {
		reqs := make([]any, len(s.RequisiteStageRefIDs))
		for i, r := range s.RequisiteStageRefIDs {
			reqs[i] = r
		}
		out["requisiteStageRefIds"] = reqs
	}
	if s.Name != "" && wellTyped("name", isStringOrNull) {
		out["name"] = s.Name
	}
	if s.Type != "" && wellTyped("type", isStringOrNull) {
		out["type"] = s.Type
	}
	if wellTyped("stageEnabled", isStageEnabledOrNull) {
		if s.StageEnabled == nil {
			delete(out, "stageEnabled")
		} else {
			se := map[string]any{}
			if raw, ok := s.Fields["stageEnabled"].(map[string]any); ok {
				se = copyMap(raw)
			}
			se["type"] = s.StageEnabled.Type
			se["expression"] = s.StageEnabled.Expression
			out["stageEnabled"] = se
		}
	}
	// A written null is normalized to the value it means.
	if wellTyped("failPipeline", isBoolOrNull) && (hasKey(s.Fields, "failPipeline") || !s.FailPipeline) {
		out["failPipeline"] = s.FailPipeline
	}
	for _, f := range []struct {
		key string
		v   bool
	}{
		{"continuePipeline", s.ContinuePipeline},
		{"completeOtherBranchesThenFail", s.CompleteOtherBranchesThenFail},
		{"failOnFailedExpressions", s.FailOnFailedExpressions},
	} {
		if wellTyped(f.key, isBoolOrNull) && (hasKey(s.Fields, f.key) || f.v) {
			out[f.key] = f.v
		}
	}
	if wellTyped("stageTimeoutMs", isWholeOrNull) && (s.Fields["stageTimeoutMs"] != nil || s.StageTimeoutMs != 0) {
		out["stageTimeoutMs"] = s.StageTimeoutMs
	}
	if wellTyped("rollbackOnFailure", isBoolOrNull) {
		if s.RollbackOnFailure != nil {
			out["rollbackOnFailure"] = *s.RollbackOnFailure
		} else {
			delete(out, "rollbackOnFailure")
		}
	}
	return out
}

func hasKey(m map[string]any, key string) bool {
	_, ok := m[key]
	return ok
}

// isRef reports whether v may stand as a refId: a string, a number or null.
func isRef(v any) bool {
	if v == nil {
		return true
	}
	_, ok := refString(v)
	return ok
}

// isRefList reports whether v is null or a list of strings and numbers.
func isRefList(v any) bool {
	if v == nil {
		return true
	}
	list, ok := v.([]any)
	if !ok {
		return false
	}
	for _, e := range list {
		if _, ok := refString(e); !ok {
			return false
		}
	}
	return true
}

func isStageEnabled(m map[string]any) bool {
	return isStringOrNull(m["type"]) && isStringOrNull(m["expression"])
}

func isStageEnabledOrNull(v any) bool {
	if v == nil {
		return true
	}
	m, ok := v.(map[string]any)
	return ok && isStageEnabled(m)
}

func isWholeOrNull(v any) bool {
	if v == nil {
		return true
	}
	_, ok := asInt64(v)
	return ok
}
