package control

import (
	"net/http"

	"github.com/sluice-cd/sluice/internal/locallambda/awserr"
)

// Concurrency and account operations: PutFunctionConcurrency,
// GetFunctionConcurrency, DeleteFunctionConcurrency, GetAccountSettings.
// Reserved concurrency is a function-level setting that covers all its
// versions; the data plane reads it from every invoke.FunctionSpec it resolves.

// minUnreserved is what reservations must leave to the rest of an account
// whose limit is limit: AWS's 100 of its default 1,000, and a tenth of a
// smaller limit, such as the local Lambda's default on a small machine.
func minUnreserved(limit int) int { return min(100, limit/10) }

type concurrencyJSON struct {
	ReservedConcurrentExecutions *int `json:"ReservedConcurrentExecutions,omitempty"`
}

func (cp *Plane) putFunctionConcurrency(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		ReservedConcurrentExecutions *int `json:"ReservedConcurrentExecutions"`
	}
	if err := decodeRequest(r, "PutFunctionConcurrency", &req); err != nil {
		return err
	}
	ref, err := cp.unqualifiedRef(r.PathValue("function"))
	if err != nil {
		return err
	}
	n := req.ReservedConcurrentExecutions
	if n == nil {
		return awserr.Validation("null", "reservedConcurrentExecutions", "Member must not be null")
	}
	if *n < 0 {
		return awserr.Validation(*n, "reservedConcurrentExecutions", "Member must have value greater than or equal to 0")
	}
	err = cp.st.write(func(m *catalog) error {
		fn, err := cp.st.lookup(m, ref, "")
		if err != nil {
			return err
		}
		reserved := *n
		for _, other := range m.Functions {
			if other != fn && other.ReservedConcurrency != nil {
				reserved += *other.ReservedConcurrency
			}
		}
		if least := minUnreserved(cp.cfg.ConcurrentExecutions); cp.cfg.ConcurrentExecutions-reserved < least {
			return awserr.InvalidParameter("Specified ReservedConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below its minimum value of [%d].", least)
		}
		v := *n
		fn.ReservedConcurrency = &v
		return nil
	})
	if err != nil {
		return err
	}
	return respondJSON(w, http.StatusOK, concurrencyJSON{ReservedConcurrentExecutions: n})
}

func (cp *Plane) getFunctionConcurrency(w http.ResponseWriter, r *http.Request) error {
	ref, err := cp.unqualifiedRef(r.PathValue("function"))
	if err != nil {
		return err
	}
	var resp concurrencyJSON
	err = cp.st.read(func(m *catalog) error {
		fn, err := cp.st.lookup(m, ref, "")
		if err != nil {
			return err
		}
		if fn.ReservedConcurrency != nil {
			v := *fn.ReservedConcurrency
			resp.ReservedConcurrentExecutions = &v
		}
		return nil
	})
	if err != nil {
		return err
	}
	return respondJSON(w, http.StatusOK, resp)
}

func (cp *Plane) deleteFunctionConcurrency(w http.ResponseWriter, r *http.Request) error {
	ref, err := cp.unqualifiedRef(r.PathValue("function"))
	if err != nil {
		return err
	}
	err = cp.st.write(func(m *catalog) error {
		fn, err := cp.st.lookup(m, ref, "")
		if err != nil {
			return err
		}
		fn.ReservedConcurrency = nil
		return nil
	})
	if err != nil {
		return err
	}
	return respondEmpty(w, http.StatusNoContent)
}

type accountSettings struct {
	AccountLimit struct {
		TotalCodeSize                  int64 `json:"TotalCodeSize"`
		CodeSizeUnzipped               int64 `json:"CodeSizeUnzipped"`
		CodeSizeZipped                 int64 `json:"CodeSizeZipped"`
		ConcurrentExecutions           int   `json:"ConcurrentExecutions"`
		UnreservedConcurrentExecutions int   `json:"UnreservedConcurrentExecutions"`
	} `json:"AccountLimit"`
	AccountUsage struct {
		TotalCodeSize int64 `json:"TotalCodeSize"`
		FunctionCount int64 `json:"FunctionCount"`
	} `json:"AccountUsage"`
}

func (cp *Plane) getAccountSettings(w http.ResponseWriter, r *http.Request) error {
	var resp accountSettings
	resp.AccountLimit.TotalCodeSize = 80530636800 // AWS's default quota, 75 GB
	resp.AccountLimit.CodeSizeUnzipped = maxUnzippedSize
	resp.AccountLimit.CodeSizeZipped = 52428800
	resp.AccountLimit.ConcurrentExecutions = cp.cfg.ConcurrentExecutions
	_ = cp.st.read(func(m *catalog) error {
		reserved := 0
		for _, fn := range m.Functions {
			if fn.ReservedConcurrency != nil {
				reserved += *fn.ReservedConcurrency
			}
			// Code storage counts each stored package once per function.
			sizes := map[string]int64{fn.Latest.CodeZip: fn.Latest.CodeSize}
			for _, v := range fn.Versions {
				sizes[v.CodeZip] = v.CodeSize
			}
			for _, n := range sizes {
				resp.AccountUsage.TotalCodeSize += n
			}
		}
		resp.AccountUsage.FunctionCount = int64(len(m.Functions))
		resp.AccountLimit.UnreservedConcurrentExecutions = cp.cfg.ConcurrentExecutions - reserved
		return nil
	})
	return respondJSON(w, http.StatusOK, resp)
}
