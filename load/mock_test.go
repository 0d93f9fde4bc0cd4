package load

import (
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"tokenharness/internal/rules"
	"tokenharness/internal/target"
	"tokenharness/mockserver"
	"tokenharness/reports"
)

// mockConfig starts the bundled mock (profile oauth21: rotation, PKCE
// S256) in-process with the given quirks and returns a run configuration
// built the way the command builds it, from the suite's target settings.
func mockConfig(t testing.TB, pr Profile, p Params, quirks ...rules.ID) Config {
	t.Helper()
	return mockConfigOf(t, rules.OAuth21, pr, p, quirks...)
}

// mockConfigOf is mockConfig with the mock's profile: rules.RFC6749 does
// not rotate refresh tokens.
func mockConfigOf(t testing.TB, mp rules.Profile, pr Profile, p Params, quirks ...rules.ID) Config {
	t.Helper()
	mc, err := mockserver.LoadConfig(mp, "")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := mockserver.New(mc, mockserver.WithQuirks(quirks...), mockserver.WithJanitorInterval(0))
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(func() { hs.Close(); srv.Close() })
	c := mc.Clients[0]
	tc := target.Default()
	tc.Target, tc.AuthorizeURL = hs.URL+mockserver.PathToken, hs.URL+mockserver.PathAuthorize
	tc.ClientID, tc.ClientSecret, tc.RedirectURI, tc.Scope = c.ID, c.Secret, c.RedirectURIs[0], "read"
	if err := tc.Validate(nil); err != nil {
		t.Fatal(err)
	}
	cfg, err := FromTarget(tc, false)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Profile, cfg.Params, cfg.Dir, cfg.MaxLag, cfg.TargetKind = pr, p, t.TempDir(), 2*time.Second, "in-process"
	cfg.Limits = correctnessOnly(pr)
	cfg.Params.Timeout = 5 * time.Second
	return cfg
}

func TestMock_EveryProfilePasses(t *testing.T) {
	t.Parallel()
	for _, pr := range Profiles() {
		t.Run(pr.Name, func(t *testing.T) {
			t.Parallel()
			p := tiny[pr.Name]
			if pr.Workload == Race {
				// Judged by the grace policy here: this test is about every
				// profile running; the strict verdict has its own test below.
				p.RacePolicy = RaceGrace
			}
			cfg := mockConfig(t, pr, p)
			if KneeRate.AppliesTo(pr.Name) {
				cfg.Limits[KneeRate.Name] = 10
			}
			l := mustRun(t, cfg)
			if l.Verdict != reports.VerdictPass {
				t.Errorf("verdict %s (%s); thresholds %+v; errors %v", l.Verdict, l.InvalidWhy, l.Thresholds, l.ErrorClasses)
			}
			want, want200 := scheduled(t, cfg), scheduled(t, cfg)
			if pr.Workload == Race {
				want200 = want / uint64(cfg.Params.GroupSize) // at least one winner per group
			}
			if pr.Search { // every step's schedule, not only the first
				want = 0
				for _, s := range l.Capacity.Steps {
					want += Constant(s.Rate, p.Duration).Hits()
				}
				want200 = want
			}
			if l.Requests != want || l.StatusCodes["200"] < want200 || l.StatusCodes["200"]+l.StatusCodes["400"] != want {
				t.Errorf("requests %d, status %v; want %d requests, at least %d of them 200, the rest 400", l.Requests, l.StatusCodes, want, want200)
			}
			for _, f := range []string{ResultsFile, ReportJSON, ReportHTML, PlotHTML, RunFile} {
				if _, err := os.Stat(filepath.Join(cfg.Dir, f)); err != nil {
					t.Errorf("missing output: %v", err)
				}
			}
			if _, err := reports.ReadLoad(filepath.Join(cfg.Dir, ReportJSON)); err != nil {
				t.Errorf("report.json does not validate: %v", err)
			}
			if len(l.Series) == 0 || len(l.Histogram) == 0 || len(l.Scatter) == 0 {
				t.Errorf("charts are empty: %d series, %d histogram, %d scatter", len(l.Series), len(l.Histogram), len(l.Scatter))
			}
		})
	}
}

func TestMock_RotationRaceCatchesTheRaceQuirk(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		quirks      []rules.ID
		wantVerdict reports.Verdict
	}{
		{"quirk off: one winner per group", nil, reports.VerdictPass},
		{"quirk on: concurrent refreshes all win", []rules.ID{rules.RefreshRace.ID}, reports.VerdictFail},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := mockConfig(t, RotationRace, Params{Rate: 200, GroupSize: 4, Duration: time.Second}, tt.quirks...)
			l := mustRun(t, cfg)
			if l.Verdict != tt.wantVerdict {
				t.Errorf("verdict = %s, want %s; winners %v; thresholds %+v", l.Verdict, tt.wantVerdict, l.Correctness.RaceWinners, l.Thresholds)
			}
			c := l.Correctness
			switch {
			case tt.quirks == nil && c.RaceWinners["1"] != c.RaceGroups:
				t.Errorf("winners %v over %d groups; want exactly one winner in each. (If this fails now and then: "+
					"mockserver's refresh reads its clock before taking the family lock, so with rotation_grace 0 a "+
					"concurrent refresh can still count as a grace-period retry and win with the same new token.)", c.RaceWinners, c.RaceGroups)
			case tt.quirks != nil && c.MultiWinnerGroups == 0:
				t.Errorf("no multi-winner group with the race quirk on: %v", c.RaceWinners)
			}
			if l.SuccessRatio != 1 {
				t.Errorf("success ratio %v: race losers were counted as failures", l.SuccessRatio)
			}
			// Losers are expected failures: neither successes nor errors.
			o := l.Outcomes
			if o.Succeeded+o.ExpectedFailures+o.UnexpectedFailures != l.Requests || o.UnexpectedFailures != 0 ||
				o.ExpectedFailures != l.StatusCodes["400"] || o.ExpectedClasses[ClassInvalidGrant] != o.ExpectedFailures ||
				o.Succeeded != l.StatusCodes["200"] {
				t.Errorf("outcomes %+v for %d requests, status %v; want the 400s as expected invalid_grant, the 200s as successes", o, l.Requests, l.StatusCodes)
			}
		})
	}
}

// A server that does not rotate refresh tokens lets every racer win, which
// RFC 6749 §6 allows: rotation-race has nothing to judge and says so, with
// the evidence, instead of passing with race_winners = 0.
func TestMock_RotationRaceAgainstANonRotatingServer(t *testing.T) {
	t.Parallel()
	for _, q := range []rules.ID{rules.VarNoRotation.ID, rules.RefreshRotation.ID} {
		t.Run(string(q), func(t *testing.T) {
			t.Parallel()
			cfg := mockConfig(t, RotationRace, Params{Rate: 200, GroupSize: 4, Duration: time.Second}, q)
			l := mustRun(t, cfg)
			if l.Verdict != reports.VerdictInconclusive || ExitCode(l) != 3 {
				t.Errorf("verdict %s exit %d, want inconclusive 3; thresholds %+v", l.Verdict, ExitCode(l), l.Thresholds)
			}
			th := l.Thresholds[0]
			if th.Name != RaceWinners.Name || th.Status != reports.StatusNotApplicable || th.Passed ||
				!strings.Contains(th.Reason, "did not rotate") || !strings.Contains(th.Reason, fmt.Sprintf("%d returned none", l.Requests)) {
				t.Errorf("race_winners = %+v; want not_applicable with the evidence", th)
			}
			c := l.Correctness
			if c.RefreshesRotated != 0 || c.RefreshesNoNewToken != l.Requests || c.RaceWinners["4-not-rotated"] != c.RaceGroups {
				t.Errorf("correctness %+v over %d requests: want every racer to win without a new refresh token", c, l.Requests)
			}
			if l.Outcomes.Succeeded != l.Requests || l.Outcomes.ExpectedFailures != 0 {
				t.Errorf("outcomes %+v", l.Outcomes)
			}
			if _, err := reports.ReadLoad(filepath.Join(cfg.Dir, ReportJSON)); err != nil {
				t.Errorf("report.json does not validate: %v", err)
			}
		})
	}
}
