package pipeline

import (
	"errors"
	"slices"
	"strconv"
	"strings"
)

// Verdict is what a migration report says of a pipeline or one stage.
type Verdict string

const (
	// VerdictRuns: runs as it does in Spinnaker.
	VerdictRuns Verdict = "runs"
	// VerdictDiffers: runs, but something in it has another effect than
	// in Spinnaker, or is not acted on; Differs says what.
	VerdictDiffers Verdict = "differs"
	// VerdictWontRun: cannot be saved, so does not run; WontRun says why
	// and what to do.
	VerdictWontRun Verdict = "wontRun"
)

// Report is the migration checklist of one pipeline document written for
// Spinnaker: what runs as in Spinnaker, what runs with a different effect
// (and which), and what will not run. Findings inside a stage are under
// that stage; the others (top-level keys, parameters, triggers) are the
// pipeline's own.
type Report struct {
	// Verdict is the pipeline's: wontRun when anything in it will not
	// run (Sluice saves a document whole or not at all), else differs
	// when anything differs, else runs.
	Verdict Verdict
	// Differs and WontRun are the findings outside any stage.
	Differs []Problem
	WontRun []Problem
	Stages  []StageReport
}

// StageReport is the part of a Report about one stage.
type StageReport struct {
	// Index is the stage's place in the document's stages list.
	Index      int
	RefID      string
	Name, Type string
	Verdict    Verdict
	Differs    []Problem
	WontRun    []Problem
}

// Report checks the pipeline as Check does and sorts what it finds into a
// migration report. Differs holds Check's warnings — keys Sluice does not
// know (KindUnknown), Spinnaker keys and triggers it keeps without acting
// on (KindIgnored) — and the keys whose effect Sluice deliberately makes
// differ from Spinnaker's (KindDiffers, from the same tables' Differs);
// WontRun holds Check's errors. Pass CheckTarget in opts to find stages
// whose account or region does not exist.
func (p *Pipeline) Report(opts ValidateOptions) *Report {
	v := p.check(opts)
	r := &Report{Stages: make([]StageReport, len(p.Stages))}
	for i, s := range p.Stages {
		r.Stages[i] = StageReport{Index: i, RefID: s.RefID, Name: s.Name, Type: s.Type}
	}
	differs := append(slices.Clone(v.warns), v.diffs...)
	slices.SortStableFunc(differs, func(a, b Problem) int { return strings.Compare(a.Path, b.Path) })
	for _, d := range differs {
		if s := r.stageOf(d.Path); s != nil {
			s.Differs = append(s.Differs, d)
		} else {
			r.Differs = append(r.Differs, d)
		}
	}
	for _, e := range v.problems {
		if s := r.stageOf(e.Path); s != nil {
			s.WontRun = append(s.WontRun, e)
		} else {
			r.WontRun = append(r.WontRun, e)
		}
	}
	r.Verdict = verdict(r.Differs, r.WontRun)
	for i := range r.Stages {
		s := &r.Stages[i]
		s.Verdict = verdict(s.Differs, s.WontRun)
		r.Verdict = worse(r.Verdict, s.Verdict)
	}
	return r
}

// FailedReport is the report of a document Parse refused: every problem
// will not run, and there are no stages to speak of.
func FailedReport(err error) *Report {
	r := &Report{Verdict: VerdictWontRun}
	if ve, ok := errors.AsType[*ValidationError](err); ok {
		r.WontRun = append(r.WontRun, ve.Problems...)
	} else {
		r.WontRun = []Problem{{Msg: err.Error()}}
	}
	return r
}

// stageOf is the stage a path is in ("stages[2]", "stages[2].x",
// "stages[2][…"), or nil.
func (r *Report) stageOf(path string) *StageReport {
	rest, ok := strings.CutPrefix(path, "stages[")
	if !ok {
		return nil
	}
	n, rest, ok := strings.Cut(rest, "]")
	if !ok || (rest != "" && rest[0] != '.' && rest[0] != '[') {
		return nil
	}
	i, err := strconv.Atoi(n)
	if err != nil || i < 0 || i >= len(r.Stages) {
		return nil
	}
	return &r.Stages[i]
}

func verdict(differs, wontRun []Problem) Verdict {
	switch {
	case len(wontRun) > 0:
		return VerdictWontRun
	case len(differs) > 0:
		return VerdictDiffers
	}
	return VerdictRuns
}

// worse is the worse of two verdicts.
func worse(a, b Verdict) Verdict {
	rank := map[Verdict]int{VerdictRuns: 0, VerdictDiffers: 1, VerdictWontRun: 2}
	if rank[b] > rank[a] {
		return b
	}
	return a
}
