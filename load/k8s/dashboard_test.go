package k8s

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"

	"tokenharness/load/live"
)

// exposed are the metric families a recorder that has seen one of
// everything exposes, by name.
func exposed(t *testing.T) map[string]dto.MetricType {
	t.Helper()
	rec := live.New("0/2")
	rec.Start("herd", "in-process", 10, func() float64 { return 5 },
		func() live.PoolState { return live.PoolState{Slots: 4, Idle: 3} })
	rec.Observe(live.Succeeded, 200, "ok", time.Millisecond, 0)
	rec.RaceGroup(1)
	w := httptest.NewRecorder()
	rec.Handler().ServeHTTP(w, httptest.NewRequest(http.MethodGet, live.Path, nil))
	var p expfmt.TextParser
	mf, err := p.TextToMetricFamilies(w.Body)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]dto.MetricType{}
	for name, f := range mf {
		out[name] = f.GetType()
	}
	return out
}

// queries are every PromQL string in the dashboard: panel targets and
// template variable queries.
func queries(v any, out *[]string) {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			if s, ok := x.(string); ok && (k == "expr" || k == "query" || k == "definition") {
				*out = append(*out, s)
				continue
			}
			queries(x, out)
		}
	case []any:
		for _, x := range v {
			queries(x, out)
		}
	}
}

// The dashboard reads only metrics the load command exposes, and shows
// every one of them.
func TestGrafanaDashboard_QueriesExistingMetrics(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("grafana-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var d map[string]any
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("grafana-dashboard.json: %v", err)
	}
	var qs []string
	queries(d, &qs)
	if len(qs) == 0 {
		t.Fatal("no queries in the dashboard")
	}
	fams := exposed(t)
	used := map[string]bool{}
	name := regexp.MustCompile(live.Namespace + `_[a-z_]+`)
	for _, q := range qs {
		for _, n := range name.FindAllString(q, -1) {
			fam := n
			for _, suf := range []string{"_bucket", "_sum", "_count"} {
				if base, ok := strings.CutSuffix(n, suf); ok && fams[base] == dto.MetricType_HISTOGRAM {
					fam = base
				}
			}
			if _, ok := fams[fam]; !ok || (fam == n && fams[fam] == dto.MetricType_HISTOGRAM) {
				t.Errorf("the dashboard queries %s, which the load command does not expose (query %q)", n, q)
			}
			used[fam] = true
		}
		if strings.Contains(q, live.Namespace) && !strings.Contains(q, `shard=~"$shard"`) && !strings.HasPrefix(q, "label_values") {
			t.Errorf("query %q ignores the shard selection", q)
		}
	}
	for f := range fams {
		if !used[f] {
			t.Errorf("the dashboard does not show %s", f)
		}
	}
	panels, _ := d["panels"].([]any)
	for _, p := range panels {
		p := p.(map[string]any)
		if ts, _ := p["targets"].([]any); len(ts) == 0 {
			t.Errorf("panel %q has no query", p["title"])
		}
	}
}
