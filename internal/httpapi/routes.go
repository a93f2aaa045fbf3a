package httpapi

import (
	"net/http"

	"github.com/sluice-cd/sluice/internal/auth"
)

// route is one entry of the route table.
type route struct {
	Method string
	// Path is a ServeMux pattern path; its {wildcards} are spelled as in
	// the OpenAPI document.
	Path string
	// Access is who may call the route.
	Access  access
	Handler handlerFunc
}

func (rt route) pattern() string { return rt.Method + " " + rt.Path }

// access says who may call a route. Every route but the public ones needs
// a principal (authentication, in handle); routes of one application name
// the right they need on it, which the handler checks with s.allow once it
// knows the application (from the path, or from the execution).
type access struct {
	// Public routes need no credential.
	Public bool
	// Admin routes need an admin.
	Admin bool
	// Perm is the right needed on the route's application; zero for
	// routes that any principal may call (and that filter what they
	// return by read rights).
	Perm auth.Permission
	// Delivery routes take a trigger's signature instead of a
	// credential: a request without a credential reaches the handler,
	// which checks the signature; a bad credential is still refused.
	Delivery bool
}

var (
	public        = access{Public: true}
	authenticated = access{}
	adminOnly     = access{Admin: true}
	canRead       = access{Perm: auth.Read}
	canExecute    = access{Perm: auth.Execute}
	canWrite      = access{Perm: auth.Write}
	// delivery is a webhook's: a token or session with the execute
	// right, or the signature of a trigger's secret.
	delivery = access{Perm: auth.Execute, Delivery: true}
)

// routes is the single route table: New registers exactly these, and
// TestOpenAPICoversRoutes checks each against openapi.json.
func (s *server) routes() []route {
	const v1 = "/api/v1"
	return []route{
		{http.MethodGet, v1 + "/health", public, s.getHealth},
		{http.MethodGet, v1 + "/version", authenticated, s.getVersion},
		{http.MethodGet, v1 + "/openapi.json", public, s.getOpenAPI},

		{http.MethodGet, v1 + "/session", authenticated, s.getSession},
		{http.MethodPost, v1 + "/session", public, s.openSession},
		{http.MethodDelete, v1 + "/session", authenticated, s.closeSession},
		{http.MethodPost, v1 + "/login-links", adminOnly, s.createLoginLink},
		{http.MethodGet, v1 + "/tokens", adminOnly, s.listTokens},
		{http.MethodPost, v1 + "/tokens", adminOnly, s.createToken},
		{http.MethodDelete, v1 + "/tokens/{id}", adminOnly, s.revokeToken},
		{http.MethodGet, v1 + "/audit", authenticated, s.listAudit},

		{http.MethodGet, v1 + "/pipelines", authenticated, s.listPipelines},
		{http.MethodPost, v1 + "/pipelines/validate", authenticated, s.validatePipeline},
		// The applications are in the document: the handler checks write
		// on each pipeline it saves; a dry run needs no right (import.go).
		{http.MethodPost, v1 + "/pipelines/import", canWrite, s.importPipelines},
		{http.MethodGet, v1 + "/pipelines/{app}/{name}", canRead, s.getPipeline},
		{http.MethodPut, v1 + "/pipelines/{app}/{name}", canWrite, s.putPipeline},
		{http.MethodDelete, v1 + "/pipelines/{app}/{name}", canWrite, s.deletePipeline},
		{http.MethodGet, v1 + "/pipelines/{app}/{name}/revisions", canRead, s.listRevisions},
		{http.MethodGet, v1 + "/pipelines/{app}/{name}/revisions/{rev}", canRead, s.getRevision},
		{http.MethodPost, v1 + "/pipelines/{app}/{name}/executions", canExecute, s.triggerExecution},
		{http.MethodPatch, v1 + "/pipelines/{app}/{name}/triggers/{key}", canWrite, s.patchTrigger},
		{http.MethodPost, v1 + "/pipelines/{app}/{name}/plan", canRead, s.planPipeline},

		// A canary config's applications are in its document: the
		// handlers check the right on each (canary_configs.go).
		{http.MethodGet, v1 + "/canary-configs", authenticated, s.listCanaryConfigs},
		{http.MethodPost, v1 + "/canary-configs/validate", authenticated, s.validateCanaryConfig},
		{http.MethodGet, v1 + "/canary-configs/{name}", canRead, s.getCanaryConfig},
		{http.MethodPut, v1 + "/canary-configs/{name}", canWrite, s.putCanaryConfig},
		{http.MethodDelete, v1 + "/canary-configs/{name}", canWrite, s.deleteCanaryConfig},
		{http.MethodGet, v1 + "/canary-configs/{name}/revisions", canRead, s.listCanaryConfigRevisions},
		{http.MethodGet, v1 + "/canary-configs/{name}/revisions/{rev}", canRead, s.getCanaryConfigRevision},

		{http.MethodGet, v1 + "/executions", authenticated, s.listExecutions},
		{http.MethodGet, v1 + "/executions/{id}", canRead, s.getExecution},
		{http.MethodPost, v1 + "/executions/{id}/cancel", canExecute, s.cancelExecution},
		{http.MethodPost, v1 + "/executions/{id}/pause", canExecute, s.pauseExecution},
		{http.MethodPost, v1 + "/executions/{id}/resume", canExecute, s.resumeExecution},
		{http.MethodPost, v1 + "/executions/{id}/rollback", canExecute, s.rollbackExecution},
		{http.MethodPost, v1 + "/executions/{id}/evaluate", canExecute, s.evaluate},
		{http.MethodPost, v1 + "/executions/{id}/stages/{stage}/restart", canExecute, s.restartStage},
		{http.MethodPost, v1 + "/executions/{id}/stages/{stage}/judgment", canExecute, s.judgeStage},
		{http.MethodPost, v1 + "/executions/{id}/stages/{stage}/skip-wait", canExecute, s.skipWait},
		{http.MethodPost, v1 + "/executions/{id}/stages/{stage}/commands", canExecute, s.commandStage},
		{http.MethodGet, v1 + "/executions/{id}/events", canRead, s.executionEvents},
		{http.MethodGet, v1 + "/events", authenticated, s.allEvents},

		{http.MethodGet, v1 + "/accounts", authenticated, s.listAccounts},
		{http.MethodGet, v1 + "/accounts/{account}/functions", authenticated, s.listFunctions},

		// Prometheus' conventional path, outside the API's version.
		{http.MethodGet, "/metrics", authenticated, s.getMetrics},
		// Echo's paths, outside /api/v1 as Gate serves them (triggers.go).
		{http.MethodPost, "/webhooks/webhook/{source}", delivery, s.deliverWebhook},
		{http.MethodPost, "/webhooks/git/{source}", delivery, s.deliverGit},
	}
}
