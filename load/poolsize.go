package load

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"sync"
	"time"
)

// Sizing a refresh-token pool from the target's measured latency: a slot
// is busy while its refresh is in flight, so the pool must cover the peak
// rate × the refresh latency. Before minting the pool, the run refreshes a
// few probe tokens and sizes it at peak × p90 × poolSafety, within
// [minPoolSlots, one second of latency at the peak rate]. A target slower
// under load than the probe found shows as pool_exhausted, never as a
// silent stall of the schedule; CLIENTS sets the size outright.
const (
	probeTokens  = 8 // tokens refreshed to measure latency; they join the pool
	probeRounds  = 3 // sequential refreshes of each probe token
	poolSafety   = 2
	minPoolSlots = 64
)

// autoClients is the size without a measurement: a quarter of a second of
// latency at the peak rate, and never fewer than minPoolSlots slots. Used
// when the probe refreshes fail (the run then shows the target's failures
// itself).
func autoClients(p Params) int {
	return max(minPoolSlots, int(math.Ceil(peakRate(p)/4)))
}

func peakRate(p Params) float64 { return math.Max(p.Rate, p.SpikeRate) }

// sizeFromLatency is the pool for the peak rate given the probe's refresh
// latencies, and how it was derived, in one line. A capacity search holds
// the target to SLO_P99 and must not run dry before latency reaches it, so
// slo, when set, is the least latency the pool covers.
func sizeFromLatency(peak float64, lat []time.Duration, slo time.Duration) (int, string) {
	s := slices.Clone(lat)
	slices.Sort(s)
	p90 := s[int(math.Ceil(0.9*float64(len(s))))-1] // nearest rank
	hi := max(minPoolSlots, int(math.Ceil(peak)))   // one second of latency
	latText := fmt.Sprintf("refresh p90 %s (%d probe refreshes)", p90.Round(10*time.Microsecond), len(s))
	if slo > p90 {
		latText = fmt.Sprintf("the latency the profile judges, %s (above the %s)", slo, latText)
		p90 = slo
	}
	n := int(math.Ceil(peak * p90.Seconds() * poolSafety))
	clamped := min(max(n, minPoolSlots), hi)
	why := fmt.Sprintf("%d = peak %g req/s × %s × %d", n, peak, latText, poolSafety)
	switch {
	case clamped > n:
		why = fmt.Sprintf("%d: the floor; %s", clamped, why)
	case clamped < n:
		why = fmt.Sprintf("%d: one second of latency at the peak rate, the ceiling; %s", clamped, why)
	}
	return clamped, why
}

// probeRefresh refreshes each token probeRounds times in turn (the tokens
// side by side), keeping the rotated token each refresh returns, and
// returns the latencies and the tokens to keep. Any failure is an error:
// the caller falls back to autoClients and drops the probe tokens.
func probeRefresh(ctx context.Context, c *http.Client, req *requests, toks []string) ([]time.Duration, []string, error) {
	toks = slices.Clone(toks)
	lat := make([]time.Duration, len(toks)*probeRounds)
	errs := make([]error, len(toks))
	var wg sync.WaitGroup
	for i := range toks {
		wg.Go(func() {
			for r := range probeRounds {
				t0 := time.Now()
				next, err := refreshOnce(ctx, c, req, toks[i])
				if err != nil {
					errs[i] = err
					return
				}
				lat[i*probeRounds+r] = time.Since(t0)
				if next != "" {
					toks[i] = next
				}
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, nil, err
		}
	}
	return lat, toks, nil
}

// refreshOnce sends one refresh and returns the new refresh token, if the
// response carried one. Error texts name the class, never a body's token.
func refreshOnce(ctx context.Context, c *http.Client, req *requests, token string) (string, error) {
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, req.url, bytes.NewReader(req.refreshBody(token)))
	if err != nil {
		return "", err
	}
	for k, vs := range req.header {
		hr.Header[k] = vs
	}
	resp, err := c.Do(hr)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxMintBody))
	if err != nil {
		return "", err
	}
	class, tr := classifyResponse(uint16(resp.StatusCode), body)
	if class != ClassOK {
		return "", fmt.Errorf("status %d, class %s", resp.StatusCode, class)
	}
	return tr.RefreshToken, nil
}
