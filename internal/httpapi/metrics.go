package httpapi

import (
	"net/http"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
)

// applicationLabel is the label that ties a series to an application; a
// principal sees only the series of applications it may read.
const applicationLabel = "application"

// getMetrics serves the server's metrics in Prometheus' text (or
// negotiated) format. Series labelled with an application the principal
// may not read are left out, as lists leave out what it may not see; a
// Prometheus server scrapes with a token (authorization.credentials_file)
// that reads every application, or is an admin's.
func (s *server) getMetrics(w http.ResponseWriter, r *http.Request) error {
	if s.metrics == nil {
		return notFound("this server exports no metrics")
	}
	families, err := s.metrics.Gather()
	if err != nil && len(families) == 0 {
		return err
	}
	if err != nil {
		// A collector failed (the job count, say): serve the rest, as
		// promhttp does with ContinueOnError, and say so in the log.
		s.log.WarnContext(r.Context(), "metrics: a collector failed", "request_id", requestID(r.Context()), "error", err)
	}
	format := expfmt.NegotiateAccept(r.Header, expfmt.DefaultAcceptedFormats()...)
	w.Header().Set("Content-Type", string(format))
	enc := expfmt.NewEncoder(w, format)
	for _, mf := range families {
		if mf = s.readableSeries(r, mf); mf == nil {
			continue
		}
		if err := enc.Encode(mf); err != nil {
			return nil // the response has begun; the client sees it cut
		}
	}
	if c, ok := enc.(expfmt.Closer); ok {
		_ = c.Close()
	}
	return nil
}

// readableSeries returns mf with only the series the request's principal
// may read, or nil when none is left.
func (s *server) readableSeries(r *http.Request, mf *dto.MetricFamily) *dto.MetricFamily {
	kept := mf.Metric[:0:0]
	for _, m := range mf.Metric {
		if app, ok := labelValue(m, applicationLabel); !ok || s.canRead(r, app) {
			kept = append(kept, m)
		}
	}
	if len(kept) == 0 {
		return nil
	}
	mf.Metric = kept
	return mf
}

func labelValue(m *dto.Metric, name string) (string, bool) {
	for _, l := range m.Label {
		if l.GetName() == name {
			return l.GetValue(), true
		}
	}
	return "", false
}
