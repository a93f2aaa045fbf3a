package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/sluice-cd/sluice/internal/apitype"
)

func (a *app) newPipelineTriggerCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "trigger",
		Short: "Enable or disable a pipeline's trigger",
		Long: `Enable or disable one of a pipeline's triggers (webhook, git, cron).

A trigger is named by its id, or by its position in the document's triggers
(0, 1, …), as 'sluice pipeline get APP/NAME --triggers' lists them. Either
saves a new revision of the pipeline with the trigger's "enabled" set.`,
		Args: cobra.ArbitraryArgs,
		RunE: groupRunE,
	}
	for _, enable := range []bool{true, false} {
		verb := "disable"
		if enable {
			verb = "enable"
		}
		cmd.AddCommand(&cobra.Command{
			Use:   verb + " APP/NAME TRIGGER",
			Short: fmt.Sprintf("%s a trigger (by id or position)", verb),
			Args:  exactArgs("APP/NAME", "TRIGGER"),
			RunE: func(cmd *cobra.Command, args []string) error {
				app, name, err := parsePipelineRef(args[0])
				if err != nil {
					return err
				}
				c, err := a.client()
				if err != nil {
					return err
				}
				p, err := c.SetTriggerEnabled(cmd.Context(), app, name, args[1], enable)
				if err != nil {
					return err
				}
				fmt.Fprintf(a.stdout, "trigger %s of %s/%s %sd; pipeline saved as revision %d\n", args[1], app, name, verb, p.Revision)
				return nil
			},
		})
	}
	return cmd
}

// printTriggers prints a pipeline's triggers and their last firing.
func (a *app) printTriggers(p *apitype.Pipeline) error {
	if len(p.Triggers) == 0 {
		fmt.Fprintf(a.stderr, "%s/%s has no triggers\n", p.Application, p.Name)
		return nil
	}
	tw := newTable(a.stdout)
	fmt.Fprintln(tw, "TRIGGER\tTYPE\tSOURCE\tENABLED\tLAST FIRED\tEXECUTION\tOUTCOME")
	for _, t := range p.Triggers {
		enabled := "no"
		switch {
		case t.Enabled && t.Runs:
			enabled = "yes"
		case t.Enabled:
			enabled = "yes (type not run)"
		}
		fired := int64(0)
		if t.LastFiredAt != nil {
			fired = *t.LastFiredAt
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", t.Key, t.Type, dash(t.Source), enabled, formatTime(fired),
			dash(t.LastExecutionID), dash(t.LastOutcome))
	}
	return tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
