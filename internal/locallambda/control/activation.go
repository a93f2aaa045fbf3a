package control

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/google/uuid"
	"github.com/sluice-cd/sluice/internal/atomicfile"
	"github.com/sluice-cd/sluice/internal/locallambda/awserr"
	"github.com/sluice-cd/sluice/internal/locallambda/invoke"
)

// Activation is the asynchronous half of CreateFunction, UpdateFunctionCode,
// UpdateFunctionConfiguration and PublishVersion: unpack the package into
// the version's own directory (unless it already is), ask the data plane
// whether the runtime can run here, and record the outcome. The API answers
// first with State Pending / LastUpdateStatus InProgress; the activation,
// a goroutine the Plane owns, moves the version on in milliseconds. The
// pending work is part of the model (functionVersion.Work), so a restart
// resumes it.

// errSuperseded stops a commit whose version was deleted or changed again.
var errSuperseded = errors.New("superseded")

// activationFailure is why a version could not activate.
type activationFailure struct {
	code, reason string
}

// startActivation runs the activation p in the background.
func (cp *Plane) startActivation(p pendingWork) {
	cp.goBackground(func(ctx context.Context) { cp.activate(ctx, p) })
}

// resume starts the activations and event source mapping transitions a
// previous run left unfinished.
func (cp *Plane) resume() {
	var work []pendingWork
	var mappings []string
	_ = cp.st.read(func(m *catalog) error {
		work = m.pending()
		for id, esm := range m.Mappings {
			if esm.transitional() {
				mappings = append(mappings, id)
			}
		}
		return nil
	})
	for _, p := range work {
		cp.startActivation(p)
	}
	for _, id := range mappings {
		cp.startMappingTransition(id)
	}
}

// pendingRecord finds the version p is for, if p is still its work.
func pendingRecord(m *catalog, p pendingWork) (*lambdaFunction, *functionVersion) {
	m.touchFunction(p.function)
	fn := m.Functions[p.function]
	if fn == nil || fn.ID != p.functionID {
		return nil, nil
	}
	v := fn.version(p.qualifier)
	if v == nil || v.Work != p.work {
		return nil, nil
	}
	return fn, v
}

func (cp *Plane) activate(ctx context.Context, p pendingWork) {
	if hook := cp.cfg.BeforeActivation; hook != nil {
		hook(p.function, p.qualifier)
	}
	if ctx.Err() != nil {
		return // shutting down; the next start resumes it
	}
	var zipRel, dirRel, runtime string
	var unpacked, found bool
	_ = cp.st.read(func(m *catalog) error {
		if _, v := pendingRecord(m, p); v != nil {
			found = true
			zipRel, dirRel, runtime, unpacked = v.CodeZip, v.CodeDir, v.Config.Runtime, v.Unpacked
		}
		return nil
	})
	if !found {
		return
	}

	var failure *activationFailure
	if !unpacked {
		failure = cp.unpack(zipRel, dirRel)
	}
	if failure == nil {
		if err := invoke.CheckRuntime(runtime, cp.abs(dirRel)); err != nil {
			failure = &activationFailure{code: "InvalidRuntime", reason: err.Error()}
		}
	}
	if ctx.Err() != nil {
		return
	}

	var retireLatest bool
	err := cp.st.write(func(m *catalog) error {
		fn, v := pendingRecord(m, p)
		if v == nil {
			return errSuperseded
		}
		retireLatest = cp.settle(fn, v, failure)
		return nil
	})
	switch {
	case errors.Is(err, errSuperseded):
	case err != nil:
		cp.log.Error("local lambda: record activation", "function", p.function, "version", p.qualifier, "err", err)
	default:
		if failure != nil {
			cp.log.Info("local lambda: activation failed", "function", p.function, "version", p.qualifier, "reason", failure.reason)
		}
	}
	if retireLatest {
		cp.dp.Retire(p.function, latestQualif)
	}
	cp.collectFunctionGarbage(p.function)
}

// unpack extracts the package into its directory, unless it is there
// already: a content directory (codeDirRel) appears whole, unpacked in the
// temporary directory and renamed into place, so one that exists holds its
// package — another version with the same code unpacked it. A directory of
// an earlier build (named by a UUID) is replaced whatever it holds.
func (cp *Plane) unpack(zipRel, dirRel string) *activationFailure {
	dir := cp.abs(dirRel)
	content := isContentDir(dirRel)
	if _, err := os.Stat(dir); err == nil && content {
		return nil
	}
	f, err := os.Open(cp.abs(zipRel))
	var fi os.FileInfo
	if err == nil {
		defer f.Close()
		fi, err = f.Stat()
	}
	if err != nil {
		return &activationFailure{code: "InternalError", reason: fmt.Sprintf("The local Lambda could not read the function's package: %v", err)}
	}
	internal := func(err error) *activationFailure {
		return &activationFailure{code: "InternalError", reason: fmt.Sprintf("The local Lambda could not prepare the code directory: %v", err)}
	}
	// Unpacked beside its place (same file system, so the rename is
	// atomic), pinned against the collection of unreferenced files; what a
	// crash leaves there is unreferenced and goes at the next start.
	if err := os.MkdirAll(filepath.Dir(dir), 0o700); err != nil {
		return internal(err)
	}
	tmpRel := filepath.Join(filepath.Dir(dirRel), ".unpack-"+uuid.NewString())
	defer cp.pins.pin(tmpRel)()
	tmp := cp.abs(tmpRel)
	defer os.RemoveAll(tmp) // gone after the rename
	if err := Unzip(f, fi.Size(), tmp, maxUnzippedSize); err != nil {
		var ae *awserr.Error
		msg := err.Error()
		if errors.As(err, &ae) {
			msg = ae.Message
		}
		return &activationFailure{code: "InvalidZipFileException", reason: msg}
	}
	if !content {
		if err := os.RemoveAll(dir); err != nil {
			return internal(err)
		}
	}
	if err := os.Rename(tmp, dir); err != nil {
		if _, serr := os.Stat(dir); serr == nil && content {
			return nil // another activation of the same code was first
		}
		return internal(err)
	}
	if err := atomicfile.SyncDir(filepath.Dir(dir)); err != nil {
		return internal(err)
	}
	return nil
}

// settle records the outcome of v's activation and reports whether $LATEST
// changed what it runs, so its old environments must be retired.
func (cp *Plane) settle(fn *lambdaFunction, v *functionVersion, failure *activationFailure) (retireLatest bool) {
	v.Work = ""
	if failure == nil || failure.code != "InvalidZipFileException" {
		v.Unpacked = true
	}
	isLatest := v == fn.Latest
	if isLatest {
		v.RevisionID = uuid.NewString()
	}
	if failure == nil {
		v.State, v.StateReason, v.StateReasonCode = functionActive, "", ""
		v.LastUpdateStatus, v.LastUpdateStatusReason, v.LastUpdateStatusReasonCode = updateSuccessful, "", ""
		if isLatest {
			retireLatest = fn.Running != nil
			fn.Running = v.clone()
		}
		return retireLatest
	}
	v.LastUpdateStatus, v.LastUpdateStatusReason, v.LastUpdateStatusReasonCode = updateFailed, failure.reason, failure.code
	if isLatest && fn.Running != nil {
		// A failed update: "Lambda aborts the update and the function's
		// previous code and configuration remain available."
		prev := fn.Running
		v.Config = prev.clone().Config
		v.CodeSha256, v.CodeSize, v.CodeZip, v.CodeDir, v.Unpacked = prev.CodeSha256, prev.CodeSize, prev.CodeZip, prev.CodeDir, true
		v.Fingerprint = prev.Fingerprint
		v.State, v.StateReason, v.StateReasonCode = prev.State, prev.StateReason, prev.StateReasonCode
		return false
	}
	v.State, v.StateReason, v.StateReasonCode = functionFailed, failure.reason, failure.code
	return false
}
