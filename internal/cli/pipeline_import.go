package cli

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sluice-cd/sluice/internal/apiclient"
	"github.com/sluice-cd/sluice/internal/apitype"
)

// importResults is what `pipeline import -o json|yaml` prints: each
// file's report, as the server gave it, or why the file could not be read.
type importResults struct {
	DryRun bool         `json:"dryRun"`
	Files  []importFile `json:"files"`
}

type importFile struct {
	File string `json:"file"`
	// Error says why the file was not read as an export (it cannot be
	// parsed, or it is empty); the file then has no pipelines.
	Error     string                     `json:"error,omitempty"`
	Pipelines []apitype.ImportedPipeline `json:"pipelines"`
}

func (a *app) newPipelineImportCmd() *cobra.Command {
	var (
		dryRun bool
		out    *outputFormat
	)
	cmd := &cobra.Command{
		Use:   "import FILE|DIR|-...",
		Short: "Report on exported Spinnaker pipelines and save those that will run",
		Long: `Read exported Spinnaker pipelines — a file may hold one pipeline, or a JSON array
of them as front50's GET /pipelines/{application} returns, or a YAML list or stream;
a directory means its *.json, *.yaml and *.yml files; - reads stdin — and report, for
each pipeline and each of its stages, the checklist to go through before switching:

  runs as in Spinnaker   nothing in it differs
  differs                it runs, but something has another effect than in Spinnaker:
                         a key Sluice keeps without acting on (triggers, notifications,
                         execution windows, trafficPercentB, …), a key it does not know
                         (likely misspelled; the nearest known key is named), or a
                         place where Sluice deliberately differs from a Spinnaker bug
  will not run           validation errors: unknown stage types, unsupported
                         expressions such as T(…), accounts or regions the server
                         does not have, refused fields; each says what to do

The server makes the report: it knows its accounts and regions. Unless --dry-run
is given, every pipeline that will run is saved as a new revision of the pipeline
its application and name say, as 'sluice pipeline apply' saves it (write right
needed on each application, checked before anything is saved); the others are
left unsaved. Spinnaker's bookkeeping keys (id, index, updateTs, lastModifiedBy)
are kept, not reported.

The exit code is 1 when any pipeline will not run or a file cannot be read.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageError(subcommand(cmd)+": missing FILE", "usage: "+cmd.UseLine())
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			files, err := importFiles(args)
			if err != nil {
				return err
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			res := importResults{DryRun: dryRun, Files: []importFile{}}
			for _, file := range files {
				data, contentType, err := a.readDocument(file)
				if err != nil {
					return err
				}
				f := importFile{File: file, Pipelines: []apitype.ImportedPipeline{}}
				rep, err := c.ImportPipelines(cmd.Context(), data, contentType, dryRun)
				var apiErr *apiclient.Error
				switch {
				case errors.As(err, &apiErr) && apiErr.Status == http.StatusBadRequest && apiErr.Code == apitype.CodeInvalidPipeline:
					f.Error = apiErr.Message
				case err != nil:
					// What earlier files saved is reported before the error.
					if len(res.Files) > 0 {
						if err := a.printImportResults(out, res); err != nil {
							return err
						}
					}
					return fmt.Errorf("%s: %w", file, err)
				default:
					f.Pipelines = rep.Pipelines
				}
				res.Files = append(res.Files, f)
			}
			if err := a.printImportResults(out, res); err != nil {
				return err
			}
			return res.failed()
		},
	}
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "only report; save nothing")
	out = addOutputFlag(cmd)
	return cmd
}

// printImportResults prints res in the format asked for.
func (a *app) printImportResults(out *outputFormat, res importResults) error {
	if done, err := out.print(a.stdout, res); done {
		return err
	}
	a.printImport(res)
	return nil
}

// importFiles expands the arguments: a directory is its *.json, *.yaml and
// *.yml files, sorted; - may be given once.
func importFiles(args []string) ([]string, error) {
	var files []string
	stdin := false
	for _, arg := range args {
		if arg == "-" {
			if stdin {
				return nil, usageError("- (stdin) is given twice", "read stdin once")
			}
			stdin = true
			files = append(files, arg)
			continue
		}
		info, err := os.Stat(arg)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return nil, &exitError{code: ExitFailed, err: fmt.Errorf("%s: no such file or directory", arg)}
			}
			return nil, err
		}
		if !info.IsDir() {
			files = append(files, arg)
			continue
		}
		entries, err := os.ReadDir(arg)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", arg, err)
		}
		var found []string
		for _, e := range entries {
			ext := strings.ToLower(filepath.Ext(e.Name()))
			if !e.IsDir() && (ext == ".json" || ext == ".yaml" || ext == ".yml") {
				found = append(found, filepath.Join(arg, e.Name()))
			}
		}
		if len(found) == 0 {
			return nil, &exitError{code: ExitFailed, err: fmt.Errorf("%s: no *.json, *.yaml or *.yml files", arg)}
		}
		slices.Sort(found)
		files = append(files, found...)
	}
	return files, nil
}

// failures counts the pipelines that will not run, of all pipelines, and
// the files that could not be read.
func (r importResults) failures() (wontRun, pipelines, unreadable int) {
	for _, f := range r.Files {
		if f.Error != "" {
			unreadable++
		}
		for _, p := range f.Pipelines {
			pipelines++
			if p.Verdict == apitype.VerdictWontRun {
				wontRun++
			}
		}
	}
	return wontRun, pipelines, unreadable
}

// failed is the error to exit with, or nil.
func (r importResults) failed() error {
	wontRun, pipelines, unreadable := r.failures()
	var parts []string
	if wontRun > 0 {
		parts = append(parts, fmt.Sprintf("%d of %s will not run", wontRun, countOf(pipelines, "pipeline")))
	}
	if unreadable > 0 {
		parts = append(parts, fmt.Sprintf("%s cannot be read", countOf(unreadable, "file")))
	}
	if len(parts) == 0 {
		return nil
	}
	return &exitError{code: ExitFailed, err: errors.New(strings.Join(parts, "; "))}
}

// verdictText is a verdict in words.
var verdictText = map[string]string{
	apitype.VerdictRuns:    "runs as in Spinnaker",
	apitype.VerdictDiffers: "runs, with differences",
	apitype.VerdictWontRun: "will not run",
}

// kindText labels a difference by its kind.
var kindText = map[string]string{
	"unknown": "unknown key",
	"ignored": "not acted on",
	"differs": "differs",
}

// printImport prints the checklist: per pipeline its verdict and whether
// it was saved, then its own findings and each stage's, and a summary.
func (a *app) printImport(res importResults) {
	w := a.stdout
	counts := map[string]int{}
	saved := 0
	for _, f := range res.Files {
		if f.Error != "" {
			fmt.Fprintf(w, "%s: cannot be read: %s\n\n", f.File, f.Error)
			continue
		}
		for _, p := range f.Pipelines {
			counts[p.Verdict]++
			name := p.Application + "/" + p.Name
			if p.Application == "" && p.Name == "" {
				name = fmt.Sprintf("pipeline %d", p.Index)
			}
			state := "not saved"
			switch {
			case p.Saved:
				saved++
				state = fmt.Sprintf("saved as revision %d", p.Revision)
			case res.DryRun:
				state = "dry run, not saved"
			}
			where := f.File
			if len(f.Pipelines) > 1 {
				where = fmt.Sprintf("%s[%d]", f.File, p.Index)
			}
			fmt.Fprintf(w, "%s (%s): %s; %s\n", name, where, verdictText[p.Verdict], state)
			printFindings(w, "    ", "", p.WontRun, p.Differs)
			for i, s := range p.Stages {
				fmt.Fprintf(w, "  stage %s %q (%s): %s\n", s.RefID, s.Name, s.Type, verdictText[s.Verdict])
				printFindings(w, "      ", fmt.Sprintf("stages[%d]", i), s.WontRun, s.Differs)
			}
			fmt.Fprintln(w)
		}
	}
	total := counts[apitype.VerdictRuns] + counts[apitype.VerdictDiffers] + counts[apitype.VerdictWontRun]
	fmt.Fprintf(w, "%s: %d run as in Spinnaker, %d run with differences, %d will not run",
		countOf(total, "pipeline"), counts[apitype.VerdictRuns], counts[apitype.VerdictDiffers], counts[apitype.VerdictWontRun])
	if res.DryRun {
		fmt.Fprintln(w, "; nothing saved (--dry-run)")
	} else {
		fmt.Fprintf(w, "; %d saved\n", saved)
	}
}

// printFindings prints findings one a line: what they are, the path
// (without prefix, a stage's), the message.
func printFindings(w io.Writer, indent, prefix string, wontRun, differs []apitype.ImportFinding) {
	path := func(p string) string {
		if prefix != "" {
			p = strings.TrimPrefix(strings.TrimPrefix(p, prefix), ".")
		}
		if p == "" {
			return ""
		}
		return p + ": "
	}
	for _, f := range wontRun {
		fmt.Fprintf(w, "%s%-14s%s%s\n", indent, "will not run", path(f.Path), f.Message)
	}
	for _, f := range differs {
		label, ok := kindText[f.Kind]
		if !ok {
			label = "differs"
		}
		// The label says it; the message need not say it again.
		msg := strings.TrimPrefix(strings.TrimPrefix(f.Message, "kept, not acted on: "), "unknown field; ")
		fmt.Fprintf(w, "%s%-14s%s%s\n", indent, label, path(f.Path), msg)
	}
}
