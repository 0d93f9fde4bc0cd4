package load

import (
	"strings"
	"testing"

	"tokenharness/reports"
)

// A figure exactly at its limit meets it. The analyzer's old error rate,
// 1 - success_ratio in float64, read 10 failures in 1,000 as
// 0.010000000000000009 and failed error_rate <= 0.01.
func TestJudge_ExactAtTheLimit(t *testing.T) {
	t.Parallel()
	load := func(failures, requests uint64) *reports.Load {
		return &reports.Load{Valid: true, Requests: requests,
			SuccessRatio: round3(float64(requests-failures) / float64(requests)),
			Outcomes:     reports.Outcomes{Succeeded: requests - failures, UnexpectedFailures: failures}}
	}
	tests := []struct {
		name   string
		th     Threshold
		l      *reports.Load
		status reports.Status
	}{
		{"10 of 1000 at error_rate <= 0.01", Max(ErrorRate, 0.01), load(10, 1000), reports.StatusPassed},
		{"11 of 1000 over error_rate <= 0.01", Max(ErrorRate, 0.01), load(11, 1000), reports.StatusFailed},
		// 0.3 is not a binary fraction: float64(0.3) < 3/10.
		{"3 of 10 at error_rate <= 0.3", Max(ErrorRate, 0.3), load(3, 10), reports.StatusPassed},
		{"1 of 3 over error_rate <= 0.333", Max(ErrorRate, 0.333), load(1, 3), reports.StatusFailed},
		{"p99 a hair over its limit", Max(P99, 0.3), &reports.Load{Requests: 1, Latency: reports.Percentiles{P99: 0.30000000000000004}}, reports.StatusFailed},
		{"p99 shown as the limit", Max(P99, 0.3), &reports.Load{Requests: 1, Latency: reports.Percentiles{P99: 0.3}}, reports.StatusPassed},
		{"knee at its minimum", Min(KneeRate, 100), &reports.Load{Knee: &reports.Knee{Rate: 100}}, reports.StatusPassed},
		{"knee under its minimum", Min(KneeRate, 100), &reports.Load{Knee: &reports.Knee{Rate: 99.999}}, reports.StatusFailed},
	}
	for _, tt := range tests {
		judge(tt.l, []Threshold{tt.th})
		if got := tt.l.Thresholds[0]; got.Status != tt.status || got.Passed != (tt.status == reports.StatusPassed) {
			t.Errorf("%s: %+v, want status %s", tt.name, got, tt.status)
		}
	}
}

func TestParseLimits_KeepsTheDecimalExact(t *testing.T) {
	t.Parallel()
	if _, err := ParseLimits("error_rate=0.1000000000000000055511151231257827"); err == nil ||
		!strings.Contains(err.Error(), "15 significant digits") {
		t.Errorf("a limit a float64 cannot carry exactly was accepted: %v", err)
	}
	got, err := ParseLimits("error_rate=0.3,p99_ms=1e2")
	if err != nil || exactDecimal(got["error_rate"]).String() != "3/10" || got["p99_ms"] != 100 {
		t.Errorf("ParseLimits = %v, %v", got, err)
	}
}

// A limit on a figure the profile does not produce is refused before the
// run. knee_rate on a herd was judged on a knee nobody measured ("ok").
func TestCheckLimits(t *testing.T) {
	t.Parallel()
	refused := []struct {
		profile Profile
		limits  map[string]float64
	}{
		{Herd, map[string]float64{"knee_rate": 100}},
		{Ramp, map[string]float64{"recovery_s": 1}},
		{Herd, map[string]float64{"race_winners": 1}},
		{RotationRace, map[string]float64{"dead_after_refresh": 0}},
		{Spike, map[string]float64{"latency_drift_ms": 10}},
	}
	for _, tt := range refused {
		err := CheckLimits(tt.profile, tt.limits)
		if err == nil || !strings.Contains(err.Error(), "not apply to profile "+tt.profile.Name) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s %v: %v; want one line refusing it", tt.profile.Name, tt.limits, err)
		}
		if _, err := Resolve(Config{Profile: tt.profile, Limits: tt.limits}); err == nil {
			t.Errorf("%s %v: Resolve accepted it", tt.profile.Name, tt.limits)
		}
	}
	if err := CheckLimits(Herd, map[string]float64{"p99_ms": 5, "error_rate": 0}); err != nil {
		t.Errorf("limits every profile measures were refused: %v", err)
	}
	// Every profile's own thresholds apply to it.
	for _, pr := range Profiles() {
		if err := CheckLimits(pr, limitsOf(pr.Thresholds)); err != nil {
			t.Errorf("%s declares a threshold it does not measure: %v", pr.Name, err)
		}
	}
}

func TestJudge_RaceWinners(t *testing.T) {
	t.Parallel()
	ths := RotationRace.Thresholds
	race := func(winners map[string]uint64, c reports.Correctness) *reports.Load {
		var groups, ok, lost uint64
		for k, n := range winners {
			w := uint64(k[0] - '0')
			groups += n
			ok += w * n
			lost += (4 - w) * n
		}
		c.RaceGroups, c.RaceWinners = groups, winners
		return &reports.Load{APIVersion: reports.APIVersion, Kind: reports.KindLoad, Valid: true, Requests: 4 * groups, Correctness: c, Latency: reports.Percentiles{P99: 1},
			Outcomes: reports.Outcomes{Succeeded: ok, ExpectedFailures: lost}}
	}
	tests := []struct {
		name     string
		l        *reports.Load
		status   reports.Status
		verdict  reports.Verdict
		exit     int
		inReason string
	}{
		{"one winner per group", race(map[string]uint64{"1": 10}, reports.Correctness{RefreshesRotated: 10}),
			reports.StatusPassed, reports.VerdictPass, 0, "10 rotating groups"},
		{"two winners", race(map[string]uint64{"1": 9, "2": 1}, reports.Correctness{MultiWinnerGroups: 1, RefreshesRotated: 11}),
			reports.StatusFailed, reports.VerdictFail, 1, "1 with more than one winner"},
		// Before: race_winners = 0, PASS.
		{"the server does not rotate", race(map[string]uint64{"4-not-rotated": 10}, reports.Correctness{RefreshesNoNewToken: 40}),
			reports.StatusNotApplicable, reports.VerdictInconclusive, 3, "40 returned none"},
		{"the server returns the same token", race(map[string]uint64{"4-not-rotated": 10}, reports.Correctness{RefreshesSameToken: 40}),
			reports.StatusNotApplicable, reports.VerdictInconclusive, 3, "40 the same one"},
		{"nobody won", race(map[string]uint64{"0": 10}, reports.Correctness{}),
			reports.StatusInconclusive, reports.VerdictInconclusive, 3, "no race group had a successful refresh"},
	}
	for _, tt := range tests {
		judge(tt.l, ths)
		got := tt.l.Thresholds[0]
		if got.Name != RaceWinners.Name || got.Status != tt.status || !got.Required || !strings.Contains(got.Reason, tt.inReason) {
			t.Errorf("%s: %+v, want status %s, required, reason containing %q", tt.name, got, tt.status, tt.inReason)
		}
		if tt.l.Verdict != tt.verdict || ExitCode(tt.l) != tt.exit {
			t.Errorf("%s: verdict %s exit %d, want %s %d", tt.name, tt.l.Verdict, ExitCode(tt.l), tt.verdict, tt.exit)
		}
		if tt.status != reports.StatusPassed && tt.status != reports.StatusFailed && got.Observed != -1 {
			t.Errorf("%s: observed %v for a threshold that was not judged", tt.name, got.Observed)
		}
		if err := tt.l.Validate(); err != nil {
			t.Errorf("%s: %v", tt.name, err)
		}
	}
}

// Only a check the run was asked for makes an unjudged run inconclusive;
// a failure anywhere still fails it.
func TestJudge_RequiredAndOptionalUnjudged(t *testing.T) {
	t.Parallel()
	noRotation := reports.Correctness{RefreshesNoNewToken: 50}
	l := &reports.Load{Valid: true, Requests: 50, Correctness: noRotation, Latency: reports.Percentiles{P99: 1},
		Outcomes: reports.Outcomes{Succeeded: 50}}
	judge(l, Herd.Thresholds)
	if l.Verdict != reports.VerdictPass {
		t.Errorf("herd against a non-rotating server: verdict %s, want pass (dead_after_refresh is not its headline)", l.Verdict)
	}
	for _, th := range l.Thresholds {
		if th.Name == DeadAfterRefresh.Name && (th.Status != reports.StatusNotApplicable || th.Passed) {
			t.Errorf("dead_after_refresh without rotation: %+v, want not_applicable", th)
		}
	}
	judge(l, []Threshold{Max(P99, 10), Max(DeadAfterRefresh, 0).Headline()})
	if l.Verdict != reports.VerdictInconclusive {
		t.Errorf("asked for dead_after_refresh, got none: verdict %s, want inconclusive", l.Verdict)
	}
	judge(l, []Threshold{Max(P99, 0.5), Max(DeadAfterRefresh, 0).Headline()})
	if l.Verdict != reports.VerdictFail {
		t.Errorf("p99 broke while the headline was not judged: verdict %s, want fail", l.Verdict)
	}
}

// A spike that had not recovered when the run ended proves recovery_s
// broken only when the run outlasted the limit.
func TestJudge_RecoveryIsABoundWhenNotRecovered(t *testing.T) {
	t.Parallel()
	tests := []struct {
		rec    reports.Recovery
		status reports.Status
	}{
		{reports.Recovery{Recovered: true, Seconds: 2}, reports.StatusPassed},
		{reports.Recovery{Recovered: false, Seconds: 5}, reports.StatusFailed},
		{reports.Recovery{Recovered: false, Seconds: 1}, reports.StatusInconclusive},
		{reports.Recovery{Reason: "no interval before the spike"}, reports.StatusInconclusive},
	}
	for _, tt := range tests {
		l := &reports.Load{Recovery: &tt.rec}
		judge(l, []Threshold{Max(RecoverySeconds, 2)})
		got := l.Thresholds[0]
		if got.Status != tt.status {
			t.Errorf("%+v: %+v, want %s", tt.rec, got, tt.status)
		}
		if judged := tt.status == reports.StatusPassed || tt.status == reports.StatusFailed; judged != (got.Observed >= 0) {
			t.Errorf("%+v: observed %v with status %s", tt.rec, got.Observed, got.Status)
		}
	}
}

func TestJudge_DriftNeedsThirds(t *testing.T) {
	t.Parallel()
	l := &reports.Load{Valid: true, Series: series([]float64{10, 10}, []float64{1, 90}, nil)}
	judge(l, Soak.Thresholds[2:4])
	for _, th := range l.Thresholds {
		if th.Status != reports.StatusInconclusive {
			t.Errorf("%s on two intervals: %+v, want inconclusive", th.Name, th)
		}
	}
	if l.Verdict != reports.VerdictInconclusive {
		t.Errorf("verdict %s, want inconclusive", l.Verdict)
	}
	l = &reports.Load{Valid: true, Series: series([]float64{10, 10, 10}, []float64{1, 1, 1}, []uint64{0, 0, 1})}
	judge(l, []Threshold{Max(ErrorGrowth, 0.1)})
	if got := l.Thresholds[0]; got.Status != reports.StatusPassed || got.Observed != 0.1 {
		t.Errorf("error growth 1 in 10: %+v, want passed at exactly 0.1", got)
	}
}

// dead_after_refresh is out of the rotated tokens the run spent again: a
// run that spent none proves nothing about them.
func TestJudge_DeadAfterRefreshNeedsASecondUse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		c      reports.Correctness
		status reports.Status
	}{
		{reports.Correctness{RefreshesRotated: 100}, reports.StatusInconclusive},
		{reports.Correctness{RefreshesRotated: 100, RotatedTokensSpent: 50}, reports.StatusPassed},
		{reports.Correctness{RefreshesRotated: 100, RotatedTokensSpent: 50, DeadAfterRefresh: 1}, reports.StatusFailed},
		{reports.Correctness{RefreshesSameToken: 100}, reports.StatusNotApplicable},
		{reports.Correctness{}, reports.StatusInconclusive},
	}
	for _, tt := range tests {
		l := &reports.Load{Correctness: tt.c}
		judge(l, []Threshold{Max(DeadAfterRefresh, 0)})
		if got := l.Thresholds[0]; got.Status != tt.status {
			t.Errorf("%+v: %+v, want %s", tt.c, got, tt.status)
		}
	}
}
