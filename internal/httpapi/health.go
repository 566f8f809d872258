package httpapi

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"
)

// HealthCheck is the body of /health-check, kept as the template had it.
type HealthCheck struct {
	Status  string `json:"status" example:"OK" doc:"Always OK when the process answers."`
	Version string `json:"version" example:"0.1.0" doc:"The running version."`
}

// Status is the body of /healthz and /readyz.
type Status struct {
	Status string `json:"status" example:"ok" doc:"ok when the check passes."`
}

var healthTags = []string{"Health"}

func (a *api) healthCheck() endpoint {
	e := handle(huma.Operation{
		OperationID: "health-check", Tags: healthTags,
		Summary: "Report the version", Description: "Answers while the process runs, with its version.",
	}, nil, func(context.Context, *struct{}) (*struct{ Body HealthCheck }, error) {
		return &struct{ Body HealthCheck }{Body: HealthCheck{Status: "OK", Version: a.opts.Version}}, nil
	})
	e.bare = true
	return e
}

func (a *api) liveness() endpoint {
	e := handle(huma.Operation{
		OperationID: "liveness", Tags: healthTags,
		Summary: "Liveness probe", Description: "Answers 200 while the process can serve HTTP.",
	}, nil, func(context.Context, *struct{}) (*struct{ Body Status }, error) {
		return &struct{ Body Status }{Body: Status{Status: "ok"}}, nil
	})
	e.bare = true
	return e
}

func (a *api) readiness() endpoint {
	return handle(huma.Operation{
		OperationID: "readiness", Tags: healthTags,
		Summary:     "Readiness probe",
		Description: "Answers 200 when the database answers and its schema is current, and 503 otherwise or while the server drains.",
	}, nil, func(ctx context.Context, _ *struct{}) (*struct{ Body Status }, error) {
		if err := a.opts.Ready(ctx); err != nil {
			a.log.WarnContext(ctx, "not ready", "request_id", requestID(ctx), "error", err)
			return nil, newProblem(ctx, http.StatusServiceUnavailable, "not ready: the server is draining, or the database is unreachable or its schema is not current")
		}
		return &struct{ Body Status }{Body: Status{Status: "ok"}}, nil
	})
}
