//go:build !nochdb

package dashboards_test

import (
	"context"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/keytrail/keytrail/dashboards"
	"github.com/keytrail/keytrail/server"
	"github.com/keytrail/keytrail/store"
	"github.com/keytrail/keytrail/store/storetest"
	"github.com/keytrail/keytrail/warehouse"
)

// describing is a prometheus.Registerer that keeps the descriptors of what
// is registered with it.
type describing struct{ descs []*prometheus.Desc }

func (d *describing) Register(c prometheus.Collector) error {
	ch := make(chan *prometheus.Desc)
	go func() { c.Describe(ch); close(ch) }()
	for desc := range ch {
		d.descs = append(d.descs, desc)
	}
	return nil
}

func (d *describing) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		_ = d.Register(c)
	}
}

func (d *describing) Unregister(prometheus.Collector) bool { return false }

// descRE reads a descriptor's name and variable labels from its String().
var descRE = regexp.MustCompile(`fqName: "([^"]+)".*variableLabels: \{([^}]*)\}`)

// TestMetricsAreServes holds dashboards.Metrics, which the Pipeline
// dashboard's PromQL is checked against, to what keytrail serve registers
// (with the store-derived gauges): every metric a panel charts exists there
// with exactly those labels.
func TestMetricsAreServes(t *testing.T) {
	s, err := store.Open(context.Background(), storetest.EmbeddedURL(t))
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	rec := &describing{}
	_, err = server.NewMetrics(rec, warehouse.New(s).API(), time.Now)
	require.NoError(t, err)
	served := map[string][]string{}
	for _, d := range rec.descs {
		m := descRE.FindStringSubmatch(d.String())
		require.NotNil(t, m, "descriptor %s", d)
		labels := []string{}
		if m[2] != "" {
			labels = strings.Split(m[2], ",")
		}
		served[m[1]] = labels
	}
	require.NotEmpty(t, served)
	var names []string
	for n := range served {
		names = append(names, n)
	}
	sort.Strings(names)
	for name, labels := range dashboards.Metrics {
		got, ok := served[name]
		require.True(t, ok, "%s: keytrail serve registers no such metric; it has %v", name, names)
		require.ElementsMatch(t, got, labels, "%s's labels", name)
	}
}
