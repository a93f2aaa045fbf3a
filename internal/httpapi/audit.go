package httpapi

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/sluice-cd/sluice/internal/apitype"
	"github.com/sluice-cd/sluice/internal/auth"
	"github.com/sluice-cd/sluice/internal/store"
)

// listAudit lists the audit log, newest first, filtered by the query:
// application, execution, user, action, since (RFC 3339), before (an entry
// ID, for the next page) and limit. Admins read all of it; anyone else
// reads one application's entries, which they may read.
func (s *server) listAudit(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	params := &store.AuditListParams{
		Application: q.Get("application"),
		ExecutionID: q.Get("execution"),
		User:        q.Get("user"),
		Action:      q.Get("action"),
		Limit:       100,
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxListLimit {
			return badRequest("limit %q is not a number from 1 to %d", v, maxListLimit)
		}
		params.Limit = n
	}
	if v := q.Get("since"); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return badRequest("since %q is not an RFC 3339 time such as 2026-12-01T00:00:00Z", v)
		}
		params.Since = t
	}
	if v := q.Get("before"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 {
			return badRequest("before %q is not an audit entry ID", v)
		}
		params.BeforeID = n
	}
	if !s.policy.IsAdmin(s.who(r)) {
		if params.ExecutionID != "" && params.Application == "" {
			exec, err := s.store.ExecutionGet(r.Context(), params.ExecutionID)
			if err != nil {
				return orNotFound(err, "execution %s not found", params.ExecutionID)
			}
			params.Application = exec.Application
		}
		if params.Application == "" {
			return forbidden(&auth.DeniedError{Principal: s.who(r).Name,
				Msg: "only admins read the whole audit log; give ?application= (or ?execution=) of an application you may read"})
		}
		if err := s.allowPerm(r, params.Application, auth.Read); err != nil {
			return err
		}
	}
	entries, err := s.store.AuditList(r.Context(), params)
	if err != nil {
		return err
	}
	out := apitype.AuditList{Entries: make([]apitype.AuditEntry, 0, len(entries))}
	for _, e := range entries {
		out.Entries = append(out.Entries, toAuditEntry(e))
	}
	if len(entries) == params.Limit {
		out.NextBefore = entries[len(entries)-1].ID
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func toAuditEntry(e *store.AuditEntry) apitype.AuditEntry {
	out := apitype.AuditEntry{
		ID: e.ID, User: e.User, Source: e.Source, Action: e.Action, Application: e.Application,
		Pipeline: e.Pipeline, ExecutionID: e.ExecutionID, StageID: e.StageID, CreatedAt: e.CreatedAt,
	}
	if len(e.Details) > 0 {
		_ = json.Unmarshal(e.Details, &out.Details) // the store keeps valid JSON objects
	}
	return out
}
