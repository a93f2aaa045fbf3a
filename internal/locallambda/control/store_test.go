package control

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/sluice-cd/sluice/internal/locallambda/lambdatest"
)

// testdata/statejson is a data directory as the build before the database
// left it: state.json (function keep: versions 1 and 2, alias live routing
// 25% to 2, reserved concurrency 7, tag owner=me, an event invoke config on
// live, an SQS event source mapping) and its functions/ tree.
const (
	legacyFunctionID = "aef98e60-9f62-487e-b7a3-01af1cfd0f7b"
	legacyAliasRev   = "f8bf487d-f4e5-41f8-b3ae-ec77681db7d2"
	legacyMapping    = "63fea84b-0e53-4ef5-996c-846b9673e2eb"
)

func copyLegacyDataDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS(filepath.Join("testdata", "statejson"))); err != nil {
		t.Fatal(err)
	}
	return dir
}

// checkLegacyModel asserts that the model of testdata/statejson is served.
func checkLegacyModel(t *testing.T, cs *ctlServer, versions string) {
	t.Helper()
	ctx := context.Background()
	fn, err := cs.Lambda.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("keep")})
	if err != nil {
		t.Fatalf("GetFunction after migration: %v", err)
	}
	if fn.Concurrency == nil || aws.ToInt32(fn.Concurrency.ReservedConcurrentExecutions) != 7 || fn.Tags["owner"] != "me" ||
		fn.Configuration.Environment == nil || fn.Configuration.Environment.Variables["MODE"] != "one" || fn.Configuration.State != types.StateActive {
		t.Errorf("GetFunction after migration = %+v, concurrency %+v, tags %v; want Active, MODE=one, 7 reserved, owner=me",
			fn.Configuration, fn.Concurrency, fn.Tags)
	}
	vs, err := cs.Lambda.ListVersionsByFunction(ctx, &lambda.ListVersionsByFunctionInput{FunctionName: aws.String("keep")})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, v := range vs.Versions {
		got = append(got, aws.ToString(v.Version)+":"+string(v.State))
	}
	if fmt.Sprint(got) != versions {
		t.Errorf("versions after migration = %v; want %s", got, versions)
	}
	al, err := cs.Lambda.GetAlias(ctx, &lambda.GetAliasInput{FunctionName: aws.String("keep"), Name: aws.String("live")})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(al.FunctionVersion) != "1" || al.RoutingConfig == nil || al.RoutingConfig.AdditionalVersionWeights["2"] != 0.25 {
		t.Errorf("alias live after migration = %s %+v; want 1 with 25%% to 2", aws.ToString(al.FunctionVersion), al.RoutingConfig)
	}
	eic, err := cs.Lambda.GetFunctionEventInvokeConfig(ctx, &lambda.GetFunctionEventInvokeConfigInput{FunctionName: aws.String("keep"), Qualifier: aws.String("live")})
	if err != nil || aws.ToInt32(eic.MaximumRetryAttempts) != 1 {
		t.Errorf("event invoke config after migration = %+v, %v; want 1 retry", eic, err)
	}
	esm, err := cs.Lambda.GetEventSourceMapping(ctx, &lambda.GetEventSourceMappingInput{UUID: aws.String(legacyMapping)})
	if err != nil || aws.ToString(esm.State) != "Enabled" {
		t.Errorf("event source mapping after migration = %+v, %v; want Enabled", esm, err)
	}
	// The code is where the snapshot said, and still there (the
	// collection of unreferenced files at start kept it).
	for _, q := range []string{"1", "2", "live"} {
		target := mustResolve(t, cs, "keep", q)
		if !strings.Contains(target.Primary.CodeDir, legacyFunctionID) {
			t.Errorf("version %s runs from %s, not from the migrated function's directory", q, target.Primary.CodeDir)
		}
		if _, err := os.Stat(filepath.Join(target.Primary.CodeDir, "bootstrap")); err != nil {
			t.Errorf("version %s's code after migration: %v", q, err)
		}
	}
}

// TestMigrateStateJSON opens a data directory an earlier build left: the
// functions in its state.json are served from the database, state.json is
// renamed to state.json.migrated, and a restart (without state.json) keeps
// everything.
func TestMigrateStateJSON(t *testing.T) {
	t.Parallel()
	dir := copyLegacyDataDir(t)
	cs := openCtlServer(t, dir)
	checkLegacyModel(t, cs, "[$LATEST:Active 1:Active 2:Active]")
	al, err := cs.Lambda.GetAlias(context.Background(), &lambda.GetAliasInput{FunctionName: aws.String("keep"), Name: aws.String("live")})
	if err != nil || aws.ToString(al.RevisionId) != legacyAliasRev {
		t.Errorf("alias live's RevisionId after migration = %s, %v; want %s", aws.ToString(al.RevisionId), err, legacyAliasRev)
	}
	if _, err := os.Stat(filepath.Join(dir, legacySnapshot)); !os.IsNotExist(err) {
		t.Errorf("state.json is still there after the migration (%v)", err)
	}
	if _, err := os.Stat(filepath.Join(dir, legacySnapshot+".migrated")); err != nil {
		t.Errorf("state.json.migrated: %v", err)
	}
	// Version numbers continue from the snapshot's.
	cs.UpdateCode(t, "keep", lambdatest.BootstrapZip(t, "3"))
	if v := cs.Publish(t, "keep"); v != "3" {
		t.Errorf("the first version published after the migration is %s; want 3", v)
	}
	if err := cs.Close(); err != nil {
		t.Fatal(err)
	}

	cs = openCtlServer(t, dir)
	cs.WaitVersionActive(t, "keep", "3")
	checkLegacyModel(t, cs, "[$LATEST:Active 1:Active 2:Active 3:Active]")
}

// TestMigrateStateJSONOnce: a crash after the migration committed but
// before state.json was renamed leaves both; the next start must not
// migrate again (the database has changed since), only rename the file.
func TestMigrateStateJSONOnce(t *testing.T) {
	t.Parallel()
	dir := copyLegacyDataDir(t)
	cs := openCtlServer(t, dir)
	ctx := context.Background()
	up, err := cs.Lambda.UpdateAlias(ctx, &lambda.UpdateAliasInput{FunctionName: aws.String("keep"), Name: aws.String("live"), FunctionVersion: aws.String("2"),
		RoutingConfig: &types.AliasRoutingConfiguration{}})
	if err != nil {
		t.Fatal(err)
	}
	if err := cs.Close(); err != nil {
		t.Fatal(err)
	}
	// The crash: state.json is back.
	if err := os.Rename(filepath.Join(dir, legacySnapshot+".migrated"), filepath.Join(dir, legacySnapshot)); err != nil {
		t.Fatal(err)
	}
	cs = openCtlServer(t, dir)
	al, err := cs.Lambda.GetAlias(ctx, &lambda.GetAliasInput{FunctionName: aws.String("keep"), Name: aws.String("live")})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(al.FunctionVersion) != "2" || aws.ToString(al.RevisionId) != aws.ToString(up.RevisionId) {
		t.Errorf("alias live = version %s, revision %s; want the update made after the migration (2, %s)",
			aws.ToString(al.FunctionVersion), aws.ToString(al.RevisionId), aws.ToString(up.RevisionId))
	}
	if _, err := os.Stat(filepath.Join(dir, legacySnapshot)); !os.IsNotExist(err) {
		t.Errorf("state.json is still there (%v)", err)
	}
}

// rowsWritten reads the database's count of rows written.
func rowsWritten(cs *ctlServer) uint64 {
	cs.st.mu.RLock()
	defer cs.st.mu.RUnlock()
	return cs.st.db.rowsWritten
}

// TestChangeWritesOnlyItsRows: the rows a change writes do not grow with
// the number of functions. With twenty functions, UpdateAlias writes one
// row (the alias), PutFunctionConcurrency one (the function's), and
// DeleteAlias one; GetFunction none.
func TestChangeWritesOnlyItsRows(t *testing.T) {
	t.Parallel()
	cs := newCtlServer(t)
	ctx := context.Background()
	zip := lambdatest.BootstrapZip(t, "rows")
	for i := range 20 {
		name := fmt.Sprintf("f%02d", i)
		cs.CreateActive(t, lambdatest.CreateInput(name, zip))
		cs.Publish(t, name)
		cs.WaitVersionActive(t, name, "1")
		if _, err := cs.Lambda.CreateAlias(ctx, &lambda.CreateAliasInput{FunctionName: aws.String(name), Name: aws.String("live"), FunctionVersion: aws.String("1")}); err != nil {
			t.Fatal(err)
		}
	}
	steps := []struct {
		what string
		do   func() error
		want uint64
	}{
		{"UpdateAlias", func() error {
			_, err := cs.Lambda.UpdateAlias(ctx, &lambda.UpdateAliasInput{FunctionName: aws.String("f07"), Name: aws.String("live"), FunctionVersion: aws.String("$LATEST")})
			return err
		}, 1},
		{"PutFunctionConcurrency", func() error {
			_, err := cs.Lambda.PutFunctionConcurrency(ctx, &lambda.PutFunctionConcurrencyInput{FunctionName: aws.String("f03"), ReservedConcurrentExecutions: aws.Int32(5)})
			return err
		}, 1},
		{"GetFunction", func() error {
			_, err := cs.Lambda.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("f03")})
			return err
		}, 0},
		{"a refused UpdateAlias", func() error {
			_, err := cs.Lambda.UpdateAlias(ctx, &lambda.UpdateAliasInput{FunctionName: aws.String("f07"), Name: aws.String("live"), FunctionVersion: aws.String("9")})
			if err == nil {
				return fmt.Errorf("UpdateAlias to a missing version succeeded")
			}
			return nil
		}, 0},
		{"DeleteAlias", func() error {
			_, err := cs.Lambda.DeleteAlias(ctx, &lambda.DeleteAliasInput{FunctionName: aws.String("f11"), Name: aws.String("live")})
			return err
		}, 1},
	}
	for _, s := range steps {
		before := rowsWritten(cs)
		if err := s.do(); err != nil {
			t.Fatalf("%s: %v", s.what, err)
		}
		if got := rowsWritten(cs) - before; got != s.want {
			t.Errorf("%s wrote %d rows with 20 functions; want %d", s.what, got, s.want)
		}
	}
	// DeleteFunction removes every row of the function: its own, $LATEST,
	// version 1 and the alias.
	before := rowsWritten(cs)
	if _, err := cs.Lambda.DeleteFunction(ctx, &lambda.DeleteFunctionInput{FunctionName: aws.String("f00")}); err != nil {
		t.Fatal(err)
	}
	if got := rowsWritten(cs) - before; got != 4 {
		t.Errorf("DeleteFunction of a function with one version and one alias wrote %d rows; want 4", got)
	}
	var left int
	err := cs.st.db.db.QueryRow(`SELECT (SELECT count(*) FROM functions WHERE name = 'f00') +
		(SELECT count(*) FROM versions WHERE function = 'f00') + (SELECT count(*) FROM aliases WHERE function = 'f00')`).Scan(&left)
	if err != nil {
		t.Fatal(err)
	}
	if left != 0 {
		t.Errorf("%d rows of the deleted function f00 are left in the database", left)
	}
}

// FuzzDecodeSnapshot feeds arbitrary state.json files to the migration's
// decoder: it must refuse them with an error or accept a model that
// encodes as rows, never panic.
func FuzzDecodeSnapshot(f *testing.F) {
	seed, err := os.ReadFile(filepath.Join("testdata", "statejson", "state.json"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Add([]byte(`{"format":1,"functions":{"f":{"name":"f"}}}`))
	f.Add([]byte(`{"format":1,"functions":{"f":null}}`))
	f.Add([]byte(`{"format":2}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > 64<<10 {
			return
		}
		m, err := decodeSnapshot("state.json", b)
		if err != nil {
			return
		}
		for name, fn := range m.Functions {
			if _, err := functionRows(name, fn); err != nil {
				t.Logf("function %s does not encode: %v", name, err)
			}
		}
	})
}

// BenchmarkLoadModel: reading a model of 1,000 functions (each with
// $LATEST, a version and an alias) from the database, as a start does.
//
//	go test ./internal/locallambda/control -run '^$' -bench LoadModel
func BenchmarkLoadModel(b *testing.B) {
	dir := b.TempDir()
	db, err := openDB(dir)
	if err != nil {
		b.Fatal(err)
	}
	var out []rowChange
	for i := range 1000 {
		name := fmt.Sprintf("f%04d", i)
		v := &functionVersion{Version: latestQualif, Config: defaultConfig(name), CodeSha256: "KBm/aG1AwKVcE4Y1tacdiPcu4U+911UiaoZ7xMXp+vA=",
			CodeDir: codeDirRel(name, "id", "KBm/aG1AwKVcE4Y1tacdiPcu4U+911UiaoZ7xMXp+vA="), State: functionActive, LastUpdateStatus: updateSuccessful}
		v1 := v.clone()
		v1.Version = "1"
		fn := &lambdaFunction{Name: name, ID: "id", Latest: v, Running: v.clone(), LastVersion: 1,
			Versions: map[string]*functionVersion{"1": v1}, Aliases: map[string]*functionAlias{"live": {Name: "live", FunctionVersion: "1"}}}
		rows, err := functionRows(name, fn)
		if err != nil {
			b.Fatal(err)
		}
		for k, v := range rows {
			out = append(out, rowChange{key: k, data: &v})
		}
	}
	if err := db.apply(out, nil); err != nil {
		b.Fatal(err)
	}
	db.close()
	b.ResetTimer()
	for range b.N {
		db, err := openDB(dir)
		if err != nil {
			b.Fatal(err)
		}
		m, err := db.load()
		if err != nil || len(m.Functions) != 1000 {
			b.Fatalf("load: %d functions, %v", len(m.Functions), err)
		}
		db.close()
	}
}

// TestAcknowledgedChangeIsOnDisk: what the API acknowledged is in the
// database when it answers, not at Close: a second control plane opened
// on the data directory while the first still runs (as after a kill, which
// skips Close) sees every change, the last UpdateAlias included.
func TestAcknowledgedChangeIsOnDisk(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cs := openCtlServer(t, dir)
	ctx := context.Background()
	cs.CreateActive(t, lambdatest.CreateInput("acked", lambdatest.BootstrapZip(t, "a")))
	cs.Publish(t, "acked")
	if _, err := cs.Lambda.CreateAlias(ctx, &lambda.CreateAliasInput{FunctionName: aws.String("acked"), Name: aws.String("live"), FunctionVersion: aws.String("1")}); err != nil {
		t.Fatal(err)
	}
	up, err := cs.Lambda.UpdateAlias(ctx, &lambda.UpdateAliasInput{FunctionName: aws.String("acked"), Name: aws.String("live"), FunctionVersion: aws.String("$LATEST"),
		Description: aws.String("last")})
	if err != nil {
		t.Fatal(err)
	}

	for _, f := range []string{dbFile, dbFile + "-wal"} {
		fi, err := os.Stat(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v; want 0600, as it holds environment variables", f, fi.Mode().Perm())
		}
	}

	other := openCtlServer(t, dir)
	al, err := other.Lambda.GetAlias(ctx, &lambda.GetAliasInput{FunctionName: aws.String("acked"), Name: aws.String("live")})
	if err != nil {
		t.Fatalf("GetAlias from a second plane: %v", err)
	}
	if aws.ToString(al.FunctionVersion) != "$LATEST" || aws.ToString(al.Description) != "last" || aws.ToString(al.RevisionId) != aws.ToString(up.RevisionId) {
		t.Errorf("the second plane sees alias live as %s %q %s; want the acknowledged update ($LATEST \"last\" %s)",
			aws.ToString(al.FunctionVersion), aws.ToString(al.Description), aws.ToString(al.RevisionId), aws.ToString(up.RevisionId))
	}
}
