package cli

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sluice-cd/sluice/internal/apitype"
)

func (a *app) newRunCmd() *cobra.Command {
	var (
		params      []string
		artifacts   []string
		triggerType string
		follow      bool
	)
	cmd := &cobra.Command{
		Use:   "run APP/PIPELINE [-p key=value]... [--follow]",
		Short: "Trigger an execution of a saved pipeline",
		Long: `Trigger an execution of the newest revision of a saved pipeline.

Without --follow it prints the execution's id and returns. With --follow it shows
the execution's progress until it completes — a status board redrawn in place on a
terminal, one line per event otherwise — and its exit code says how it ended:
0 SUCCEEDED, 1 TERMINAL/STOPPED/FAILED_CONTINUE, 2 CANCELED (3: usage or connection
errors).`,
		Example: `  sluice run myapp/deploy -p env=staging -p version=42 --follow
  sluice run myapp/deploy --artifact type=s3/object,name=orders,reference=s3://builds/orders-42.zip
  sluice run myapp/deploy --artifact '{"type":"embedded/base64","name":"event","reference":"e30="}'`,
		Args: exactArgs("APP/PIPELINE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			app, name, err := parsePipelineRef(args[0])
			if err != nil {
				return err
			}
			parameters, err := parseParams(params)
			if err != nil {
				return err
			}
			arts, err := parseArtifacts(artifacts)
			if err != nil {
				return err
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			exec, err := c.Trigger(cmd.Context(), app, name, apitype.TriggerRequest{Parameters: parameters, Type: triggerType, Artifacts: arts})
			if err != nil {
				return err
			}
			if !follow {
				fmt.Fprintln(a.stdout, exec.ID)
				fmt.Fprintf(a.stderr, "started execution %s of %s/%s; follow it with: sluice execution get %s --follow\n", exec.ID, app, name, exec.ID)
				return nil
			}
			return a.follow(cmd.Context(), c, exec.ID)
		},
	}
	f := cmd.Flags()
	f.StringArrayVarP(&params, "param", "p", nil, "pipeline parameter as key=value (repeatable)")
	f.StringArrayVar(&artifacts, "artifact", nil, "artifact the trigger brings, as key=value,... (type, name, version, location, reference, artifactAccount) or a JSON object (repeatable)")
	f.StringVar(&triggerType, "type", "", `trigger type recorded in the execution (default "manual")`)
	f.BoolVarP(&follow, "follow", "f", false, "show progress until the execution completes, and exit with its result")
	return cmd
}

// parseParams turns key=value flags into parameters. Values stay strings,
// as Spinnaker's parameters are.
func parseParams(kvs []string) (map[string]any, error) {
	if len(kvs) == 0 {
		return nil, nil
	}
	out := make(map[string]any, len(kvs))
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, usageError(fmt.Sprintf("-p %q is not key=value", kv), "pass each parameter as -p name=value")
		}
		out[k] = v
	}
	return out, nil
}

// artifactKeys are the keys --artifact key=value takes.
var artifactKeys = []string{"type", "name", "version", "location", "reference", "artifactAccount"}

// parseArtifacts turns --artifact flags into artifacts: a JSON object, or
// key=value pairs separated by commas.
func parseArtifacts(flags []string) ([]map[string]any, error) {
	var out []map[string]any
	for _, f := range flags {
		a := map[string]any{}
		if strings.HasPrefix(strings.TrimSpace(f), "{") {
			if err := json.Unmarshal([]byte(f), &a); err != nil {
				return nil, usageError(fmt.Sprintf("--artifact %s is not a JSON object: %v", f, err), `pass --artifact '{"type":"s3/object","reference":"s3://bucket/key"}' or --artifact type=s3/object,reference=s3://bucket/key`)
			}
		} else {
			for _, kv := range strings.Split(f, ",") {
				k, v, ok := strings.Cut(kv, "=")
				if !ok || !slices.Contains(artifactKeys, k) {
					return nil, usageError(fmt.Sprintf("--artifact %q: %q is not key=value with a key of %s", f, kv, strings.Join(artifactKeys, ", ")),
						"pass --artifact type=s3/object,reference=s3://bucket/key, or a JSON object for values with commas")
				}
				a[k] = v
			}
		}
		if t, _ := a["type"].(string); t == "" {
			return nil, usageError(fmt.Sprintf("--artifact %s has no type", f), "add type=s3/object (or embedded/base64, http/file, github/file)")
		}
		out = append(out, a)
	}
	return out, nil
}
