package httpapi

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/sluice-cd/sluice/internal/apitype"
	"github.com/sluice-cd/sluice/internal/engine"
	"github.com/sluice-cd/sluice/internal/pipeline"
)

// decodePlanRequest reads the body of a plan: the trigger parameters, as
// a trigger's.
func decodePlanRequest(data []byte) (*apitype.PlanRequest, error) {
	var req apitype.PlanRequest
	if len(data) == 0 {
		return &req, nil
	}
	if err := decodeJSON(data, &req); err != nil {
		return nil, err
	}
	for k, v := range req.Parameters {
		n, err := plainNumbers(v)
		if err != nil {
			e := badRequest("parameter %q: %v", k, err)
			e.Details = []apitype.ErrorDetail{{Path: "parameters." + k, Message: err.Error()}}
			return nil, e
		}
		req.Parameters[k] = n
	}
	return &req, nil
}

// planPipeline says what a run of the pipeline's newest revision would
// change, changing nothing. It needs read on the application; each
// Lambda stage's account must be one the application may use, which the
// stage checks as its run does (a stage whose account is not allowed is
// planned as an error naming it).
func (s *server) planPipeline(w http.ResponseWriter, r *http.Request) error {
	p, req, err := pipelineRequest(s, w, r, decodePlanRequest)
	if err != nil {
		return err
	}
	plan, err := s.engine.Plan(r.Context(), &engine.PlanParams{Pipeline: p, User: s.who(r).Name, Parameters: req.Parameters})
	if err != nil {
		var ve *pipeline.ValidationError
		if errors.As(err, &ve) {
			return &Error{
				Status:  http.StatusBadRequest,
				Code:    apitype.CodeInvalidParameters,
				Message: problemsMessage(fmt.Sprintf("the parameters of %s/%s are invalid", p.Application, p.Name), len(ve.Problems)),
				Details: validationDetails(ve),
				Err:     err,
			}
		}
		return fmt.Errorf("plan %s/%s: %w", p.Application, p.Name, err)
	}
	writeJSON(w, http.StatusOK, plan)
	return nil
}
