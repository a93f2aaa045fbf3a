package httpapi

import "net/http"

// route is one entry of the route table.
type route struct {
	Method string
	// Path is a ServeMux pattern path; its {wildcards} are spelled as in
	// the OpenAPI document.
	Path    string
	Handler handlerFunc
}

func (rt route) pattern() string { return rt.Method + " " + rt.Path }

// routes is the single route table: New registers exactly these, and
// TestOpenAPICoversRoutes checks each against openapi.json.
func (s *server) routes() []route {
	const v1 = "/api/v1"
	return []route{
		{http.MethodGet, v1 + "/health", s.getHealth},
		{http.MethodGet, v1 + "/version", s.getVersion},
		{http.MethodGet, v1 + "/openapi.json", s.getOpenAPI},

		{http.MethodGet, v1 + "/pipelines", s.listPipelines},
		{http.MethodPost, v1 + "/pipelines/validate", s.validatePipeline},
		{http.MethodGet, v1 + "/pipelines/{app}/{name}", s.getPipeline},
		{http.MethodPut, v1 + "/pipelines/{app}/{name}", s.putPipeline},
		{http.MethodDelete, v1 + "/pipelines/{app}/{name}", s.deletePipeline},
		{http.MethodGet, v1 + "/pipelines/{app}/{name}/revisions", s.listRevisions},
		{http.MethodGet, v1 + "/pipelines/{app}/{name}/revisions/{rev}", s.getRevision},
		{http.MethodPost, v1 + "/pipelines/{app}/{name}/executions", s.triggerExecution},

		{http.MethodGet, v1 + "/executions", s.listExecutions},
		{http.MethodGet, v1 + "/executions/{id}", s.getExecution},
		{http.MethodPost, v1 + "/executions/{id}/cancel", s.cancelExecution},
		{http.MethodPost, v1 + "/executions/{id}/pause", s.pauseExecution},
		{http.MethodPost, v1 + "/executions/{id}/resume", s.resumeExecution},
		{http.MethodPost, v1 + "/executions/{id}/rollback", s.rollbackExecution},
		{http.MethodPost, v1 + "/executions/{id}/evaluate", s.evaluate},
		{http.MethodPost, v1 + "/executions/{id}/stages/{stage}/restart", s.restartStage},
		{http.MethodPost, v1 + "/executions/{id}/stages/{stage}/judgment", s.judgeStage},
		{http.MethodPost, v1 + "/executions/{id}/stages/{stage}/skip-wait", s.skipWait},
		{http.MethodGet, v1 + "/executions/{id}/events", s.executionEvents},
		{http.MethodGet, v1 + "/events", s.allEvents},

		{http.MethodGet, v1 + "/accounts", s.listAccounts},
		{http.MethodGet, v1 + "/accounts/{account}/functions", s.listFunctions},
	}
}
