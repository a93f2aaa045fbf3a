package cli

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sluice-cd/sluice/internal/apitype"
)

func (a *app) newPipelinePlanCmd() *cobra.Command {
	var (
		params []string
		out    *outputFormat
	)
	cmd := &cobra.Command{
		Use:   "plan APP/NAME [-p key=value]...",
		Short: "Show what a run of a saved pipeline would change, changing nothing",
		Long: `Show what a run of the newest revision of a saved pipeline would change in AWS,
changing nothing (as terraform plan and lambroll diff do).

For each Lambda stage the server reads the function, aliases and versions the stage
targets from its account, and shows the difference a run would make: configuration
fields old → new, whether the code differs and a version would be published, alias
routing before → after, the versions a Delete would remove, what an Invoke would
invoke. Other stages (wait, manualJudgment, …) make no AWS change.

Trigger parameters (-p) and parameterConfig defaults are evaluated as a run would;
expressions that read the run itself (#stage(…) outputs, #judgment, execution) are
shown as written, "known at run time", never guessed.

  + created   - removed or deleted   ~ changed (old → new)   = stays as it is`,
		Example: `  sluice pipeline plan myapp/deploy -p version=42
  sluice pipeline plan myapp/deploy -o json`,
		Args: exactArgs("APP/NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			app, name, err := parsePipelineRef(args[0])
			if err != nil {
				return err
			}
			parameters, err := parseParams(params)
			if err != nil {
				return err
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			plan, err := c.Plan(cmd.Context(), app, name, apitype.PlanRequest{Parameters: parameters}, nil)
			if err != nil {
				return err
			}
			if done, err := out.print(a.stdout, plan); done || err != nil {
				return err
			}
			printPlan(a.stdout, plan)
			return nil
		},
	}
	cmd.Flags().StringArrayVarP(&params, "param", "p", nil, "pipeline parameter as key=value (repeatable)")
	out = addOutputFlag(cmd)
	return cmd
}

// printPlan writes a plan as a readable diff.
func printPlan(w io.Writer, p *apitype.Plan) {
	fmt.Fprintf(w, "Plan of %s/%s (revision %d)", p.Application, p.Pipeline, p.Revision)
	if len(p.Parameters) > 0 {
		var kv []string
		for _, k := range slices.Sorted(maps.Keys(p.Parameters)) {
			kv = append(kv, k+"="+apitype.PlanText(p.Parameters[k]))
		}
		fmt.Fprintf(w, " with %s", strings.Join(kv, " "))
	}
	fmt.Fprintln(w, "; nothing was changed.")
	counts := map[string]int{}
	for _, s := range p.Stages {
		counts[s.Action]++
		fmt.Fprintln(w)
		fmt.Fprintf(w, "%s %s (%s)", apitype.PlanMark(s.Action), s.Name, s.Type)
		if s.Target != "" {
			fmt.Fprintf(w, " — %s", s.Target)
		}
		fmt.Fprintln(w)
		fmt.Fprintf(w, "    %s\n", s.Summary)
		for _, c := range s.Changes {
			fmt.Fprintf(w, "    %s %s", c.Kind, c.Field)
			switch c.Kind {
			case apitype.ChangeModify:
				fmt.Fprintf(w, ": %s → %s", apitype.PlanText(c.Old), apitype.PlanText(c.New))
			case apitype.ChangeAdd, apitype.ChangeSame:
				if c.New != nil {
					fmt.Fprintf(w, ": %s", apitype.PlanText(c.New))
				}
			case apitype.ChangeRemove:
				if c.Old != nil {
					fmt.Fprintf(w, ": %s", apitype.PlanText(c.Old))
				}
			}
			if c.Note != "" {
				fmt.Fprintf(w, "  (%s)", c.Note)
			}
			fmt.Fprintln(w)
		}
		for _, f := range s.RunTime {
			fmt.Fprintf(w, "    ? %s: known at run time: %s", f.Field, f.Expression)
			if f.Why != "" {
				fmt.Fprintf(w, " (reads %s)", f.Why)
			}
			fmt.Fprintln(w)
		}
		for _, n := range s.Notes {
			fmt.Fprintf(w, "    note: %s\n", n)
		}
	}
	fmt.Fprintln(w)
	var parts []string
	for _, a := range []struct{ action, words string }{
		{apitype.PlanCreate, "to create"}, {apitype.PlanUpdate, "to update"}, {apitype.PlanDelete, "to delete from"},
		{apitype.PlanInvoke, "to invoke"}, {apitype.PlanNoChange, "unchanged"}, {apitype.PlanNoAWSChange, "without AWS change"},
		{apitype.PlanRunTime, "known only at run time"}, {apitype.PlanError, "that would fail"},
	} {
		if n := counts[a.action]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, a.words))
		}
	}
	fmt.Fprintf(w, "Stages: %s.\n", strings.Join(parts, ", "))
}
