package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"
)

// Output formats of -o.
const (
	formatTable = "table"
	formatJSON  = "json"
	formatYAML  = "yaml"
)

// outputFormat is the value of a read command's -o/--output: table for
// people, json and yaml for programs (the same data: the API's JSON), and
// any format of the command's own. An unknown format is a usage error when
// the flags are parsed, before anything is asked of the server.
type outputFormat struct {
	value   string
	allowed []string
}

// addOutputFlag adds -o/--output to cmd, defaulting to table, accepting
// table, json and yaml and the command's extra formats.
func addOutputFlag(cmd *cobra.Command, extra ...string) *outputFormat {
	return addFormatFlag(cmd, formatTable, append([]string{formatTable, formatJSON, formatYAML}, extra...))
}

// addDocumentOutputFlag adds -o/--output to a command that prints a
// document to edit and apply again: json (the default) or yaml.
func addDocumentOutputFlag(cmd *cobra.Command) *outputFormat {
	return addFormatFlag(cmd, formatJSON, []string{formatJSON, formatYAML})
}

func addFormatFlag(cmd *cobra.Command, def string, allowed []string) *outputFormat {
	o := &outputFormat{value: def, allowed: allowed}
	cmd.Flags().VarP(o, "output", "o", "output format: "+strings.Join(o.allowed, ", "))
	_ = cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions(o.allowed, cobra.ShellCompDirectiveNoFileComp))
	return o
}

// String implements pflag.Value.
func (o *outputFormat) String() string { return o.value }

// Type implements pflag.Value; the help shows it as the flag's argument.
func (o *outputFormat) Type() string { return "format" }

// Set implements pflag.Value.
func (o *outputFormat) Set(s string) error {
	if !slices.Contains(o.allowed, s) {
		return usageError(fmt.Sprintf("-o %q is not an output format", s), "use one of "+strings.Join(o.allowed, ", "))
	}
	o.value = s
	return nil
}

// print writes v as JSON or YAML when that is the format, and reports
// whether it did; otherwise the caller prints its table (or own format).
func (o *outputFormat) print(w io.Writer, v any) (bool, error) {
	switch o.value {
	case formatJSON:
		return true, printJSON(w, v)
	case formatYAML:
		return true, printYAML(w, v)
	}
	return false, nil
}

// printJSON writes v as indented JSON.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// printYAML writes v (or raw JSON) as YAML.
func printYAML(w io.Writer, v any) error {
	data, ok := v.(json.RawMessage)
	if !ok {
		var err error
		if data, err = json.Marshal(v); err != nil {
			return err
		}
	}
	out, err := yaml.JSONToYAML(data)
	if err != nil {
		return fmt.Errorf("convert to YAML: %w", err)
	}
	_, err = w.Write(out)
	return err
}

// newTable returns a tabwriter for aligned columns; call Flush when done.
func newTable(w io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
}

// formatTime formats epoch milliseconds for a table, in local time.
func formatTime(ms int64) string {
	if ms == 0 {
		return "-"
	}
	return time.UnixMilli(ms).Local().Format("2006-01-02 15:04:05")
}

// formatDuration rounds d for a human: 850ms, 12s, 3m04s, 2h05m.
func formatDuration(d time.Duration) string {
	switch {
	case d < 0:
		return "-"
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	}
	return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
}

// span is the time from start to end, or to now when end is nil; zero
// when start is nil.
func span(start, end *int64, now time.Time) time.Duration {
	if start == nil {
		return 0
	}
	stop := now.UnixMilli()
	if end != nil {
		stop = *end
	}
	return time.Duration(stop-*start) * time.Millisecond
}

// noArgs is cobra.NoArgs with a usage error.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageError(fmt.Sprintf("%s: unexpected argument %q", subcommand(cmd), strings.Join(args, " ")),
			"run '"+cmd.CommandPath()+" --help'")
	}
	return nil
}

// exactArgs requires the named positional arguments.
func exactArgs(names ...string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		hint := "usage: " + cmd.UseLine()
		switch {
		case len(args) < len(names):
			return usageError(fmt.Sprintf("%s: missing %s", subcommand(cmd), strings.Join(names[len(args):], " ")), hint)
		case len(args) > len(names):
			return usageError(fmt.Sprintf("%s: unexpected argument %q", subcommand(cmd), strings.Join(args[len(names):], " ")), hint)
		}
		return nil
	}
}

// subcommand is the command's path without the program name, e.g.
// "pipeline get".
func subcommand(cmd *cobra.Command) string {
	return strings.TrimPrefix(cmd.CommandPath(), cmd.Root().Name()+" ")
}

// parsePipelineRef splits APP/NAME.
func parsePipelineRef(s string) (app, name string, err error) {
	app, name, ok := strings.Cut(s, "/")
	if !ok || app == "" || name == "" {
		return "", "", usageError(fmt.Sprintf("%q is not APP/NAME", s), "name a pipeline by application and name, e.g. myapp/deploy")
	}
	return app, name, nil
}
