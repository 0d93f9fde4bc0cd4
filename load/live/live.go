// Package live exposes a running load's figures as OpenMetrics for
// Prometheus to scrape (METRICS_ADDR): requests by outcome, status and
// failure class, latency and generator-lag histograms, rotation-race
// winners and the token pool's state, each series labelled with the shard
// ("i/n"; "0/1" for an unsharded run) so a sharded Job's pods add up.
//
// Latency is the harness's, from each request's intended send time (see
// load/LOAD.md §1), observed once the harness has classified the result.
// vegeta's own lib/prom is not used: it labels series by URL, which here
// carries each token slot in its fragment (one series per token), measures
// latency from when a worker picked the request up, and cannot tell an
// expected race loser from a failure.
package live

import (
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Namespace prefixes every metric name.
const Namespace = "tokenharness_load"

// Outcomes, as the report's outcomes count them.
const (
	Succeeded         = "succeeded"
	ExpectedFailure   = "expected_failure"
	UnexpectedFailure = "unexpected_failure"
	// Unsent is a request that never left the process: no token was idle.
	Unsent = "unsent"
)

// Pool states for the token pool gauge.
const (
	PoolIdle    = "idle"
	PoolInUse   = "in_use"
	PoolRetired = "retired"
)

// PoolState is the token pool's state at one instant.
type PoolState struct {
	Slots, Idle, Retired int
	Exhausted, Rotated   uint64
}

// latencyBuckets are the report's latency histogram bounds (load's
// histBoundsMS), in seconds, so the dashboard and report.html agree.
var latencyBuckets = []float64{0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// lagBuckets cover the generator's lag from nothing to far past the
// default invalid-run limit of 100 ms.
var lagBuckets = []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1}

// Recorder holds one run's metrics. A nil *Recorder records nothing, so the
// runner calls it unconditionally.
type Recorder struct {
	reg       *prometheus.Registry
	requests  *prometheus.CounterVec
	latency   *prometheus.HistogramVec
	lag       prometheus.Histogram
	races     *prometheus.CounterVec
	scheduled prometheus.Gauge
	info      *prometheus.GaugeVec
	rate      atomic.Pointer[func() float64]
	pool      atomic.Pointer[func() PoolState]
}

// New returns a Recorder whose series carry shard ("i/n").
func New(shard string) *Recorder {
	if shard == "" {
		shard = "0/1"
	}
	cl := prometheus.Labels{"shard": shard}
	r := &Recorder{reg: prometheus.NewRegistry()}
	r.requests = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "requests_total",
		Help: "Requests accounted for, by outcome (succeeded, expected_failure, unexpected_failure, unsent), HTTP status (0: no response) and failure class (ok on success).", ConstLabels: cl},
		[]string{"outcome", "status", "class"})
	r.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: Namespace, Name: "latency_seconds",
		Help: "Latency from each request's intended send time to its response, by outcome.", Buckets: latencyBuckets, ConstLabels: cl},
		[]string{"outcome"})
	r.lag = prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: Namespace, Name: "generator_lag_seconds",
		Help: "How far behind its intended send time each request left.", Buckets: lagBuckets, ConstLabels: cl})
	r.races = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "race_groups_total",
		Help: "Settled rotation-race groups by their number of winners (more than 1: the server honoured a reused refresh token).", ConstLabels: cl},
		[]string{"winners"})
	r.scheduled = prometheus.NewGauge(prometheus.GaugeOpts{Namespace: Namespace, Name: "scheduled_requests",
		Help: "Requests this shard's schedule holds.", ConstLabels: cl})
	r.info = prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: Namespace, Name: "info",
		Help: "The run: profile and target kind (value 1).", ConstLabels: cl}, []string{"profile", "target_kind"})
	rate := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: Namespace, Name: "scheduled_rate",
		Help: "The schedule's intended arrival rate now, req/s.", ConstLabels: cl}, func() float64 {
		if f := r.rate.Load(); f != nil {
			return (*f)()
		}
		return 0
	})
	pool := &poolCollector{r: r,
		slots: prometheus.NewDesc(prometheus.BuildFQName(Namespace, "", "token_pool_slots"),
			"Token pool slots by state: idle (ready to refresh), in_use (a refresh in flight), retired (the server rejected its token).",
			[]string{"state"}, cl),
		exhausted: prometheus.NewDesc(prometheus.BuildFQName(Namespace, "", "token_pool_exhausted_total"),
			"Requests due when no token was idle (recorded as pool_exhausted, never sent).", nil, cl),
		rotated: prometheus.NewDesc(prometheus.BuildFQName(Namespace, "", "token_pool_rotations_total"),
			"Refreshes that put a new refresh token into the pool.", nil, cl),
	}
	r.reg.MustRegister(r.requests, r.latency, r.lag, r.races, r.scheduled, r.info, rate, pool)
	return r
}

// Start records what the run is about to do: its profile, target kind,
// scheduled requests, and where to read its intended rate and its token
// pool's state (nil: the run has no such pool) at each scrape.
func (r *Recorder) Start(profile, targetKind string, scheduled uint64, rate func() float64, pool func() PoolState) {
	if r == nil {
		return
	}
	r.info.Reset()
	r.info.WithLabelValues(profile, targetKind).Set(1)
	r.scheduled.Set(float64(scheduled))
	r.rate.Store(&rate)
	if pool == nil {
		r.pool.Store(nil)
	} else {
		r.pool.Store(&pool)
	}
}

type poolCollector struct {
	r                         *Recorder
	slots, exhausted, rotated *prometheus.Desc
}

func (c *poolCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.slots
	ch <- c.exhausted
	ch <- c.rotated
}

func (c *poolCollector) Collect(ch chan<- prometheus.Metric) {
	f := c.r.pool.Load()
	if f == nil {
		return
	}
	s := (*f)()
	inUse := max(s.Slots-s.Idle-s.Retired, 0)
	for _, v := range []struct {
		state string
		n     int
	}{{PoolIdle, s.Idle}, {PoolInUse, inUse}, {PoolRetired, s.Retired}} {
		ch <- prometheus.MustNewConstMetric(c.slots, prometheus.GaugeValue, float64(v.n), v.state)
	}
	ch <- prometheus.MustNewConstMetric(c.exhausted, prometheus.CounterValue, float64(s.Exhausted))
	ch <- prometheus.MustNewConstMetric(c.rotated, prometheus.CounterValue, float64(s.Rotated))
}

// Observe records one classified result. An Unsent request never left
// the process (pool exhausted): it has no latency or lag.
func (r *Recorder) Observe(outcome string, status uint16, class string, latency, lag time.Duration) {
	if r == nil {
		return
	}
	r.requests.WithLabelValues(outcome, strconv.Itoa(int(status)), class).Inc()
	if outcome != Unsent {
		r.latency.WithLabelValues(outcome).Observe(latency.Seconds())
		r.lag.Observe(lag.Seconds())
	}
}

// RaceGroup records a settled rotation-race group.
func (r *Recorder) RaceGroup(winners int) {
	if r == nil {
		return
	}
	r.races.WithLabelValues(strconv.Itoa(winners)).Inc()
}

// Handler serves the metrics, in OpenMetrics when the scraper asks for it.
func (r *Recorder) Handler() http.Handler {
	return promhttp.HandlerFor(r.reg, promhttp.HandlerOpts{EnableOpenMetrics: true})
}

// Path is where Serve exposes the metrics.
const Path = "/metrics"

// Serve listens on addr (host:port; port 0 picks one) and serves r at
// Path until stop is called. It listens before returning, so a bad or busy
// address is an error before any work starts; url is where to scrape.
func Serve(addr string, r *Recorder) (url string, stop func(), err error) {
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return "", nil, fmt.Errorf("load: METRICS_ADDR=%q: want host:port, e.g. 127.0.0.1:9464 (or :9464 on every interface)", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, fmt.Errorf("load: METRICS_ADDR=%s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle(Path, r.Handler())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	// Serve returns http.ErrServerClosed when stop closes it; any other
	// error means the listener failed, and the run goes on without metrics.
	go srv.Serve(ln) //nolint:errcheck

	return "http://" + ln.Addr().String() + Path, func() { srv.Close() }, nil
}
