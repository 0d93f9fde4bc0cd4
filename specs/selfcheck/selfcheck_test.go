// Package selfcheck proves the conformance suite against the reference mock
// server: the clean mock passes every profile, each rule's fault switch
// ("quirk") makes the suite report that rule violated (the mutation score is
// computed and printed, never claimed), and every legal variation keeps the
// suite green. All runs share one in-process mock per profile, selecting
// quirks per request, so they run concurrently.
package selfcheck

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"

	"tokenharness/internal/conform"
	"tokenharness/internal/plan"
	"tokenharness/internal/rules"
	"tokenharness/internal/target"
	"tokenharness/mockserver"
)

type fixture struct {
	profile rules.Profile
	cfg     target.Config
}

var (
	setupOnce sync.Once
	fixtures  map[rules.Profile]fixture
	setupErr  error
	closers   []func()
)

func TestMain(m *testing.M) {
	code := m.Run()
	for _, c := range closers {
		c()
	}
	os.Exit(code)
}

// mock returns the run configuration for profile p against a shared
// in-process mock that honours per-request quirks.
func mock(t *testing.T, p rules.Profile) target.Config {
	t.Helper()
	setupOnce.Do(func() {
		fixtures = map[rules.Profile]fixture{}
		for _, info := range rules.ProfileInfos {
			mcfg, err := mockserver.LoadConfig(info.Name, "")
			if err != nil {
				setupErr = err
				return
			}
			env := map[string]string{"PROFILE": string(info.Name)}
			srv, err := mockserver.New(mcfg, mockserver.WithQuirksFromHeader())
			if err != nil {
				setupErr = err
				return
			}
			hs := httptest.NewServer(srv)
			closers = append(closers, hs.Close, srv.Close)
			env["TARGET"] = hs.URL + "/oauth/token"
			env["AUTHORIZE_URL"] = hs.URL + "/oauth/authorize"
			env["CONFIG"] = "../../fixtures/targets/mock-" + string(info.Name) + ".yaml"
			cfg, err := plan.Resolve(func(k string) string { return env[k] })
			if err != nil {
				setupErr = fmt.Errorf("profile %s: %w", info.Name, err)
				return
			}
			fixtures[info.Name] = fixture{profile: info.Name, cfg: cfg}
		}
	})
	if setupErr != nil {
		t.Fatal(setupErr)
	}
	return fixtures[p].cfg
}

// sideRaceAttempts is the race budget of the race rules in runs about
// other switches (isolation, legal variations): those runs ask whether the
// race rules stay green, which a few races answer, and there are hundreds
// of them. The clean-mock runs and the race rules' own mutants keep the
// default budget.
const sideRaceAttempts = 3

// runAll checks every rule of the profile with the given quirks on.
func runAll(t *testing.T, cfg target.Config, quirks ...string) map[rules.ID]conform.Verdict {
	t.Helper()
	cfg.Quirks = quirks
	r, err := conform.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	out := map[rules.ID]conform.Verdict{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, rule := range rules.For(rules.Profile(cfg.Profile)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v := r.Run(context.Background(), rule)
			mu.Lock()
			out[rule.ID] = v
			mu.Unlock()
		}()
	}
	wg.Wait()
	return out
}

func TestCleanMockPassesEveryProfile(t *testing.T) {
	t.Parallel()
	for _, info := range rules.ProfileInfos {
		t.Run(string(info.Name), func(t *testing.T) {
			t.Parallel()
			cfg := mock(t, info.Name)
			verdicts := runAll(t, cfg)
			for id, v := range verdicts {
				if v.Status == conform.StatusFailed {
					t.Errorf("clean mock fails %s:\n%s", id, v)
				}
				if v.Violated && v.Policy.Mode == rules.ModeEnforce {
					t.Errorf("clean mock violates enforced rule %s (%s):\n%s", id, v.Status, v)
				}
			}
			t.Logf("profile %s: %s", info.Name, tally(verdicts))
		})
	}
}

// TestEveryRuleIsKilledByItsQuirk is mutation testing with the mock's fault
// switches as the mutants: a rule whose quirk the suite does not notice is
// either a rule that checks nothing or a switch nobody wired.
func TestEveryRuleIsKilledByItsQuirk(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	killed, total, isolated := 0, 0, 0
	var survivors []string
	collateral := map[string][]string{}
	t.Cleanup(func() {
		sort.Strings(survivors)
		fmt.Printf("mutation score: %d/%d rule×profile mutants killed (%.1f%%)\n", killed, total, 100*float64(killed)/float64(max(total, 1)))
		if len(survivors) > 0 {
			fmt.Printf("surviving mutants: %s\n", strings.Join(survivors, ", "))
		}
		fmt.Printf("isolation: %d/%d switches break no other enforced rule of their profile\n", isolated, total)
		if !testing.Verbose() {
			return
		}
		keys := make([]string, 0, len(collateral))
		for k := range collateral {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Printf("  %s also breaks %s\n", k, strings.Join(collateral[k], ", "))
		}
	})
	for _, info := range rules.ProfileInfos {
		for _, rule := range rules.For(info.Name) {
			if rule.Profiles[info.Name].Mode != rules.ModeEnforce {
				continue
			}
			t.Run(string(info.Name)+"/"+string(rule.ID), func(t *testing.T) {
				t.Parallel()
				cfg := mock(t, info.Name)
				cfg.Quirks = []string{string(rule.ID)}
				r, err := conform.New(cfg)
				if err != nil {
					t.Fatal(err)
				}
				defer r.Close()
				v := r.Run(context.Background(), rule)
				// Isolation is measured, not required: some faults (an error
				// answered with 200) necessarily break every rule that reads
				// errors; the report names them so the figure is honest.
				var others []string
				side := cfg
				side.RaceAttempts = sideRaceAttempts
				for id, ov := range runAll(t, side, string(rule.ID)) {
					if id != rule.ID && ov.Violated && ov.Policy.Mode == rules.ModeEnforce {
						others = append(others, string(id))
					}
				}
				sort.Strings(others)
				mu.Lock()
				defer mu.Unlock()
				total++
				if len(others) == 0 {
					isolated++
				} else {
					collateral[string(info.Name)+"/"+string(rule.ID)] = others
				}
				if v.Violated {
					killed++
					return
				}
				survivors = append(survivors, string(info.Name)+"/"+string(rule.ID))
				t.Errorf("quirk %s did not make the suite report the rule violated in %s (status %s):\n%s", rule.ID, info.Name, v.Status, v)
			})
		}
	}
}

func TestLegalVariationsStayGreen(t *testing.T) {
	t.Parallel()
	for _, info := range rules.ProfileInfos {
		for _, variation := range rules.VariationsFor(info.Name) {
			t.Run(string(info.Name)+"/"+string(variation.ID), func(t *testing.T) {
				t.Parallel()
				cfg := mock(t, info.Name)
				cfg.RaceAttempts = sideRaceAttempts
				for id, v := range runAll(t, cfg, string(variation.ID)) {
					if v.Status == conform.StatusFailed {
						t.Errorf("legal variation %s (%s) fails %s:\n%s", variation.ID, variation.Why, id, v)
					}
				}
			})
		}
	}
}

func tally(vs map[rules.ID]conform.Verdict) string {
	n := map[string]int{}
	for _, v := range vs {
		n[v.Status]++
	}
	return fmt.Sprintf("%d rules: %d passed, %d warned, %d waived, %d skipped, %d failed",
		len(vs), n[conform.StatusPassed], n[conform.StatusWarned], n[conform.StatusWaived], n[conform.StatusSkipped], n[conform.StatusFailed])
}
