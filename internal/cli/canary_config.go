package cli

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sluice-cd/sluice/internal/apitype"
	"github.com/sluice-cd/sluice/internal/canary"
)

func (a *app) newCanaryConfigCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "canary-config",
		Short: "Validate, save, inspect and diff canary configs",
		Long: `Validate, save, inspect and diff canary configs.

A canary config is Kayenta's canary config JSON (name, applications, metrics with
their queries, groups and analysisConfigurations, classifier.groupWeights); a config
exported from Kayenta applies as it is. Configs are named by their name. Each apply
is a new revision; the applications a config names decide who may read and change
it (docs/canary-configs.md).`,
		Args: cobra.ArbitraryArgs,
		RunE: groupRunE,
	}
	cmd.AddCommand(
		a.newCanaryConfigValidateCmd(),
		a.newCanaryConfigApplyCmd(),
		a.newCanaryConfigGetCmd(),
		a.newCanaryConfigListCmd(),
		a.newCanaryConfigDeleteCmd(),
		a.newCanaryConfigHistoryCmd(),
		a.newCanaryConfigDiffCmd(),
	)
	return cmd
}

// readCanaryConfig reads and parses a canary config file (- for stdin).
// A document that is not one JSON object is printed as a problem.
func (a *app) readCanaryConfig(file string) ([]byte, *canary.Config, error) {
	data, _, err := a.readDocument(file)
	if err != nil {
		return nil, nil, err
	}
	c, err := canary.ParseConfig(data)
	if err != nil {
		return nil, nil, &exitError{code: ExitFailed, err: fmt.Errorf("%s: %w", file, err)}
	}
	return data, c, nil
}

// printWarnings prints warnings (a canary config's, a pipeline's) to
// stderr, one "warning: path: message" per line.
func (a *app) printWarnings(warnings []apitype.ErrorDetail) {
	for _, w := range warnings {
		fmt.Fprintf(a.stderr, "warning: %s: %s\n", w.Path, w.Message)
	}
}

func (a *app) newCanaryConfigValidateCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "validate FILE",
		Short: "Check a canary config without a server",
		Long: `Check a canary config (JSON; - reads stdin) with the rules the server applies
when it is saved. No server is needed.

Every problem is printed as "path: message" and the exit code is 1. A valid config
prints its name and the warnings: fields Sluice keeps but does not act on.`,
		Args: exactArgs("FILE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			file := args[0]
			_, c, err := a.readCanaryConfig(file)
			if err != nil {
				return err
			}
			if err := c.Validate(canary.ConfigValidateOptions{}); err != nil {
				return a.printProblems(file, err)
			}
			for _, w := range c.Warnings() {
				fmt.Fprintf(a.stderr, "warning: %s\n", w.String())
			}
			fmt.Fprintf(a.stdout, "canary config %s: %d metrics, applications %s\n", c.Name, len(c.Metrics), listOrNone(c.Applications))
			return nil
		},
	}
}

func listOrNone(items []string) string {
	if len(items) == 0 {
		return "none"
	}
	return strings.Join(items, ", ")
}

func (a *app) newCanaryConfigApplyCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "apply FILE|-",
		Short: "Save a canary config on the server as a new revision",
		Long: `Save a canary config (JSON; - reads stdin) on the server as a new revision of
the config its name says. The server keeps the document byte for byte, validates it
first and reports every problem with its path.`,
		Args: exactArgs("FILE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			file := args[0]
			data, parsed, err := a.readCanaryConfig(file)
			if err != nil {
				return err
			}
			if parsed.Name == "" {
				return usageError(fmt.Sprintf("%s does not say which canary config it is", file), "add \"name\" to the document")
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			saved, err := c.PutCanaryConfig(cmd.Context(), parsed.Name, data)
			if err != nil {
				return err
			}
			a.printWarnings(saved.Warnings)
			fmt.Fprintf(a.stdout, "canary config %s saved as revision %d\n", saved.Name, saved.Revision)
			return nil
		},
	}
}

func (a *app) newCanaryConfigGetCmd() *cobra.Command {
	var (
		revision int
		out      *outputFormat
	)
	cmd := &cobra.Command{
		Use:   "get NAME",
		Short: "Print a saved canary config",
		Long: `Print the newest revision of a saved canary config, or --revision N, as JSON
ready to edit and apply again (-o yaml to read it; apply takes JSON).`,
		Args: exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			var cfg *apitype.CanaryConfig
			if revision > 0 {
				cfg, err = c.GetCanaryConfigRevision(cmd.Context(), args[0], revision)
			} else {
				cfg, err = c.GetCanaryConfig(cmd.Context(), args[0])
			}
			if err != nil {
				return err
			}
			if out.value == formatYAML {
				return printYAML(a.stdout, cfg.Document)
			}
			return printJSON(a.stdout, cfg.Document)
		},
	}
	cmd.Flags().IntVar(&revision, "revision", 0, "print this revision instead of the newest")
	out = addDocumentOutputFlag(cmd)
	return cmd
}

func (a *app) newCanaryConfigListCmd() *cobra.Command {
	var out *outputFormat
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the saved canary configs you may read",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			cs, err := c.ListCanaryConfigs(cmd.Context())
			if err != nil {
				return err
			}
			if done, err := out.print(a.stdout, cs); done {
				return err
			}
			if len(cs) == 0 {
				fmt.Fprintln(a.stderr, "no canary configs")
				return nil
			}
			tw := newTable(a.stdout)
			fmt.Fprintln(tw, "CANARY CONFIG\tAPPLICATIONS\tREVISION\tUPDATED\tBY")
			for _, cfg := range cs {
				fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\n", cfg.Name, listOrNone(cfg.Applications), cfg.Revision, formatTime(cfg.UpdatedAt), cfg.UpdatedBy)
			}
			return tw.Flush()
		},
	}
	out = addOutputFlag(cmd)
	return cmd
}

func (a *app) newCanaryConfigDeleteCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete a canary config (its revisions are kept)",
		Long: `Delete a canary config. Its revisions are kept, and applying it again revives
it with the next revision number.`,
		Args: exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			if err := c.DeleteCanaryConfig(cmd.Context(), args[0]); err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "canary config %s deleted\n", args[0])
			return nil
		},
	}
}

func (a *app) newCanaryConfigHistoryCmd() *cobra.Command {
	var out *outputFormat
	cmd := &cobra.Command{
		Use:   "history NAME",
		Short: "List the revisions of a canary config, newest first",
		Long: `List the revisions of a canary config, newest first. Print one with
'sluice canary-config get NAME --revision N'; compare two with
'sluice canary-config diff NAME REV1 REV2'.`,
		Args: exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			revs, err := c.ListCanaryConfigRevisions(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if done, err := out.print(a.stdout, revs); done {
				return err
			}
			tw := newTable(a.stdout)
			fmt.Fprintln(tw, "REVISION\tAPPLICATIONS\tSAVED\tBY")
			for _, r := range revs {
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\n", r.Revision, listOrNone(r.Applications), formatTime(r.CreatedAt), r.CreatedBy)
			}
			return tw.Flush()
		},
	}
	out = addOutputFlag(cmd)
	return cmd
}

func (a *app) newCanaryConfigDiffCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "diff NAME REV1 REV2",
		Short: "Show what changed between two revisions of a canary config",
		Long: `Show what changed from revision REV1 to REV2 of a canary config, one change a
line as "path: old → new". The comparison is by field, not by line: metrics are
matched by name, so reordering them is no change, and numbers compare by value.`,
		Args: exactArgs("NAME", "REV1", "REV2"),
		RunE: func(cmd *cobra.Command, args []string) error {
			var revs [2]int
			for i, s := range args[1:] {
				n, err := strconv.Atoi(s)
				if err != nil || n < 1 {
					return usageError(fmt.Sprintf("revision %q is not a revision number", s),
						"revisions are 1, 2, 3, …; 'sluice canary-config history "+args[0]+"' lists them")
				}
				revs[i] = n
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			var docs [2][]byte
			for i, rev := range revs {
				cfg, err := c.GetCanaryConfigRevision(cmd.Context(), args[0], rev)
				if err != nil {
					return err
				}
				docs[i] = cfg.Document
			}
			changes, err := canary.DiffConfigs(docs[0], docs[1])
			if err != nil {
				return fmt.Errorf("diff canary config %s revisions %d and %d: %w", args[0], revs[0], revs[1], err)
			}
			if len(changes) == 0 {
				fmt.Fprintf(a.stdout, "no changes from revision %d to %d\n", revs[0], revs[1])
				return nil
			}
			for _, ch := range changes {
				fmt.Fprintln(a.stdout, ch.String())
			}
			return nil
		},
	}
}
