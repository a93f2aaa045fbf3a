package control

import (
	"cmp"
	"context"
	"maps"
	"path/filepath"
	"time"

	"github.com/sluice-cd/sluice/internal/locallambda/awserr"
	"github.com/sluice-cd/sluice/internal/locallambda/invoke"
)

var _ invoke.Resolver = (*controlState)(nil)

// ResolveInvoke resolves what an Invoke runs, for the data plane: a name
// (a name, a full or partial ARN, optionally ":qualifier") and a Qualifier
// ($LATEST for "", a version, or an alias). An alias gives its primary
// version and, with routing, the additional version and its weight.
// $LATEST runs its last successfully activated configuration: while an
// update is in progress, invocations keep going to the previous code, as
// on AWS.
//
// Errors are AWS's: an unknown function or qualifier is a 404
// ResourceNotFoundException "Function not found: ARN[:qualifier]"; a
// version that is Pending or Failed is a 409 ResourceConflictException
// naming its state. A returned target is always Active.
func (st *controlState) ResolveInvoke(_ context.Context, name, qualifier string) (*invoke.Target, error) {
	ref, err := st.parseFunctionName(name)
	if err != nil {
		return nil, err
	}
	q, err := mergeQualifier(ref.Qualifier, qualifier)
	if err != nil {
		return nil, err
	}
	st.mu.RLock()
	defer st.mu.RUnlock()
	if err := st.loaded(); err != nil {
		return nil, err
	}
	fn, err := st.lookup(st.m, ref, q)
	if err != nil {
		return nil, err
	}
	target := &invoke.Target{InvokedARN: st.qualified(fn.Name, q), State: string(functionActive)}
	target.Async = asyncConfig(fn.EventInvokeConfigs[cmp.Or(q, latestQualif)])
	if q == "" || q == latestQualif || isVersionQualifier(q) {
		target.Primary, err = st.runnable(fn, q)
		if err != nil {
			return nil, err
		}
		return target, nil
	}
	al := fn.Aliases[q]
	if al == nil {
		return nil, awserr.ResourceNotFound("Function not found: %s", st.qualified(fn.Name, q))
	}
	if target.Primary, err = st.runnable(fn, al.FunctionVersion); err != nil {
		return nil, err
	}
	for v, w := range al.Weights {
		if target.Additional, err = st.runnable(fn, v); err != nil {
			return nil, err
		}
		target.AdditionalWeight = w
	}
	return target, nil
}

// asyncConfig is the data plane's view of an event invoke configuration.
func asyncConfig(c *eventInvokeConfig) *invoke.AsyncConfig {
	if c == nil {
		return nil
	}
	ac := &invoke.AsyncConfig{OnSuccess: c.OnSuccess, OnFailure: c.OnFailure}
	if n := c.MaximumRetryAttempts; n != nil {
		v := *n
		ac.MaximumRetryAttempts = &v
	}
	if n := c.MaximumEventAgeInSeconds; n != nil {
		ac.MaximumEventAge = time.Duration(*n) * time.Second
	}
	return ac
}

// runnable builds the spec of an Active version ($LATEST for "").
func (st *controlState) runnable(fn *lambdaFunction, q string) (*invoke.FunctionSpec, error) {
	if q == "" || q == latestQualif {
		if fn.Running == nil {
			return nil, stateConflict(fn.Latest.State)
		}
		return st.spec(fn, fn.Running), nil
	}
	v := fn.Versions[q]
	if v == nil {
		return nil, awserr.ResourceNotFound("Function not found: %s", st.qualified(fn.Name, q))
	}
	if v.State != functionActive {
		return nil, stateConflict(v.State)
	}
	return st.spec(fn, v), nil
}

// spec is the data plane's view of a version.
func (st *controlState) spec(fn *lambdaFunction, v *functionVersion) *invoke.FunctionSpec {
	sp := &invoke.FunctionSpec{
		Name:          fn.Name,
		Version:       v.Version,
		ARN:           st.function(fn.Name),
		Runtime:       v.Config.Runtime,
		Handler:       v.Config.Handler,
		CodeDir:       filepath.Join(st.dataDir, v.CodeDir),
		CodeSha256:    v.CodeSha256,
		Env:           maps.Clone(v.Config.Environment),
		Timeout:       time.Duration(v.Config.Timeout) * time.Second,
		MemoryMB:      v.Config.MemorySize,
		Role:          v.Config.Role,
		DeadLetterArn: v.Config.DeadLetterTargetArn,
	}
	if fn.ReservedConcurrency != nil {
		n := *fn.ReservedConcurrency
		sp.ReservedConcurrency = &n
	}
	return sp
}
