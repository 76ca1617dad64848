// Package sources names the normalizer of every source keytrail reads, for
// the places that take records of any source: `keytrail ingest` and the
// live pipeline's sink. A new source is one more case here.
package sources

import (
	"fmt"
	"strings"

	"github.com/keytrail/keytrail/ingest"
	"github.com/keytrail/keytrail/ingest/airflow"
	"github.com/keytrail/keytrail/ingest/entra"
	"github.com/keytrail/keytrail/ingest/google"
	"github.com/keytrail/keytrail/ingest/keycloak"
	"github.com/keytrail/keytrail/ingest/oidc"
	"github.com/keytrail/keytrail/ingest/okta"
	"github.com/keytrail/keytrail/model"
)

// Names lists the sources that have a normalizer, in a stable order.
var Names = []model.Source{model.SourceOkta, model.SourceEntra, model.SourceGoogle, model.SourceKeycloak, model.SourceOIDC, model.SourceAirflow}

// Normalizer returns a new normalizer for src. Airflow's counts the event
// names its classification table lacks (airflow.Normalizer.Classifier).
func Normalizer(src model.Source) (ingest.Normalizer, error) {
	switch src {
	case model.SourceOkta:
		return okta.New(), nil
	case model.SourceEntra:
		return entra.New(), nil
	case model.SourceGoogle:
		return google.New(), nil
	case model.SourceKeycloak:
		return keycloak.New(), nil
	case model.SourceOIDC:
		return oidc.New(), nil
	case model.SourceAirflow:
		n := airflow.New()
		n.Classifier = airflow.NewClassifier()
		return n, nil
	}
	names := make([]string, len(Names))
	for i, n := range Names {
		names[i] = string(n)
	}
	return nil, fmt.Errorf("unknown source %q (want one of %s)", src, strings.Join(names, ", "))
}
