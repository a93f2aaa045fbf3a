package cli

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/sluice-cd/sluice/internal/apiclient"
	"github.com/sluice-cd/sluice/internal/apitype"
)

func (a *app) newAuditCmd() *cobra.Command {
	var (
		opts  apiclient.AuditOptions
		since string
		all   bool
		out   *outputFormat
	)
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Show the audit log: who did what, when and from where",
		Long: `Show the audit log, newest first: every pipeline save and delete, run, judgment,
cancel, pause, resume, restart, rollback, token creation and revocation, and login,
with who did it, when and from where (the client's address and how it signed in).

Admins read all of it; anyone else names an application (or an execution of one)
they may read.`,
		Example: `  sluice audit --since 24h
  sluice audit --application hello --action judge
  sluice audit --execution 5d1c… -o json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if since != "" {
				t, err := parseSince(since, time.Now())
				if err != nil {
					return err
				}
				opts.Since = t
			}
			if opts.Limit < 1 {
				return usageError(fmt.Sprintf("--limit %d is not a positive number", opts.Limit), "for example --limit 100")
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			var entries []apitype.AuditEntry
			for {
				page, err := c.ListAudit(cmd.Context(), opts)
				if err != nil {
					return err
				}
				entries = append(entries, page.Entries...)
				if !all || page.NextBefore == 0 {
					break
				}
				opts.Before = page.NextBefore
			}
			if done, err := out.print(a.stdout, entries); done {
				return err
			}
			if len(entries) == 0 {
				fmt.Fprintln(a.stderr, "no audit entries")
				return nil
			}
			tw := newTable(a.stdout)
			fmt.Fprintln(tw, "TIME\tUSER\tFROM\tACTION\tWHAT")
			for _, e := range entries {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", e.CreatedAt.Local().Format(time.DateTime), e.User, e.Source, e.Action, auditWhat(e))
			}
			return tw.Flush()
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.Application, "application", "", "only this application's entries")
	f.StringVar(&opts.Execution, "execution", "", "only this execution's entries")
	f.StringVar(&opts.User, "user", "", "only what this principal did (e.g. admin, token:ci)")
	f.StringVar(&opts.Action, "action", "", "only this action (e.g. pipeline.save, trigger, judge, token.create, login)")
	f.StringVar(&since, "since", "", "only entries since this long ago (24h) or this time (RFC 3339)")
	f.IntVar(&opts.Limit, "limit", 50, "how many to list (per page with --all)")
	f.BoolVar(&all, "all", false, "list every page")
	out = addOutputFlag(cmd)
	return cmd
}

// parseSince reads --since: a duration before now, or an RFC 3339 time.
func parseSince(s string, now time.Time) (time.Time, error) {
	if d, err := time.ParseDuration(s); err == nil && d > 0 {
		return now.Add(-d), nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	return time.Time{}, usageError(fmt.Sprintf("--since %q is neither a duration nor an RFC 3339 time", s),
		"for example --since 24h or --since 2026-01-02T15:04:05Z")
}

// auditWhat says what an entry was about: the pipeline or application,
// the execution, the stage, and the details as key=value.
func auditWhat(e apitype.AuditEntry) string {
	var parts []string
	switch {
	case e.Pipeline != "":
		parts = append(parts, e.Application+"/"+e.Pipeline)
	case e.Application != "":
		parts = append(parts, e.Application)
	}
	if e.ExecutionID != "" {
		parts = append(parts, "execution "+e.ExecutionID)
	}
	if e.StageID != "" {
		parts = append(parts, "stage "+e.StageID)
	}
	keys := make([]string, 0, len(e.Details))
	for k := range e.Details {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		v, ok := e.Details[k].(string)
		if !ok {
			b, _ := json.Marshal(e.Details[k]) // decoded from JSON, so it encodes
			v = string(b)
		}
		parts = append(parts, k+"="+v)
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, " ")
}
