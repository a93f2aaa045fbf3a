package web

import (
	"cmp"
	"context"
	"slices"

	"github.com/sluice-cd/sluice/internal/apiclient"
	"github.com/sluice-cd/sluice/internal/apitype"
)

// waitingView is what the header says waits for a person: the manual
// judgments the viewer may judge, each linked to its card.
type waitingView struct {
	Items []waitingItem
	// More is set when there may be more than the items listed.
	More bool
}

// waitingItem is one waiting judgment.
type waitingItem struct {
	URL   string
	Label string
}

// waitingLimit bounds the judgments the header lists.
const waitingLimit = 100

// waiting asks the API, in one call, for the running executions with a
// manual judgment waiting, and keeps the judgments the viewer may judge
// (their stage's judgment roles allow it). It returns nil when the API
// did not answer; the header then says nothing rather than "none".
func (c *Console) waiting(ctx context.Context, viewer *apitype.Session) *waitingView {
	list, err := c.api.ListExecutions(ctx, apiclient.ListOptions{AwaitingJudgment: true, Limit: waitingLimit})
	if err != nil {
		c.log.WarnContext(ctx, "list judgments awaiting", "err", err)
		return nil
	}
	v := &waitingView{More: list.NextCursor != ""}
	for _, e := range list.Executions {
		for i := range e.Stages {
			s := &e.Stages[i]
			if s.Type != "manualJudgment" || !mayJudge(s, viewer) {
				continue
			}
			v.Items = append(v.Items, waitingItem{
				URL:   pathJoin("executions", e.ID) + "#judgments",
				Label: e.Application + "/" + e.PipelineName + ": " + cmp.Or(s.Name, s.RefID),
			})
		}
	}
	return v
}

// mayJudge reports whether the viewer may judge s: anyone when its
// judgment roles do not limit it, else admins and holders of one of them.
func mayJudge(s *apitype.Stage, viewer *apitype.Session) bool {
	roles := s.JudgmentRoles
	return len(roles) == 0 || viewer.Admin || slices.ContainsFunc(roles, func(r string) bool { return slices.Contains(viewer.Roles, r) })
}
