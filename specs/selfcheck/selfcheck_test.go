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
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"tokenharness/internal/conform"
	"tokenharness/internal/oauth"
	"tokenharness/internal/plan"
	"tokenharness/internal/rules"
	"tokenharness/internal/target"
	"tokenharness/mockserver"
	"tokenharness/reports"
)

type fixture struct {
	profile rules.Profile
	cfg     target.Config
}

// selfRun is one configuration the self-check runs the suite with: a
// profile and the bundled mock's target file for it. oauth21 runs twice,
// with its confidential and its public client, since the refresh-rotation
// rules bind the server for public clients only.
type selfRun struct {
	name    string
	profile rules.Profile
	file    string // fixtures/targets/<file>.yaml
	// noCodes leaves the run without a code source, as a
	// machine-to-machine target has none.
	noCodes bool
	// env overrides the target file's settings (DPOP=true on a file
	// written for another run).
	env map[string]string
	// focus, when set, limits the run's mutants to the rules with this
	// need: the profile's other rules are tried by its other runs, and
	// trying them again would only double the self-check's time.
	focus rules.Need
	// device points the run at the mock's device authorization and
	// test verification endpoints (RFC 8628). Such a run tries only the
	// mutants of the device grant's rules: the profile's main run tries
	// the others, and the device rules wait out a device code's lifetime.
	device bool
}

var selfRuns = func() []selfRun {
	var out []selfRun
	for _, info := range rules.ProfileInfos {
		out = append(out, selfRun{name: string(info.Name), profile: info.Name, file: "mock-" + string(info.Name)})
	}
	// The mock's authorize endpoint binds codes with dpop_jkt (RFC 9449
	// §10), so every DPoP run declares it and checks the binding.
	dpop := map[string]string{"DPOP": "true", "DPOP_JKT": "true"}
	return append(out, selfRun{name: "oauth21-public", profile: rules.OAuth21, file: "mock-oauth21-public"},
		selfRun{name: "rfc6749-m2m", profile: rules.RFC6749, file: "mock-rfc6749-m2m", noCodes: true},
		// DPoP (RFC 9449): proofs on client_credentials requests of a
		// confidential client, and on code redemptions and refreshes of a
		// public client (whose refresh tokens are bound to the key) under
		// both profiles that define DPoP. The public client's target file
		// is oauth21's; PROFILE overrides it for rfc6749 (the mock serves
		// the same client under both).
		selfRun{name: "rfc6749-dpop", profile: rules.RFC6749, file: "mock-rfc6749-dpop", focus: rules.NeedDPoP},
		selfRun{name: "rfc6749-public-dpop", profile: rules.RFC6749, file: "mock-oauth21-public", env: dpop, focus: rules.NeedDPoP},
		selfRun{name: "oauth21-public-dpop", profile: rules.OAuth21, file: "mock-oauth21-public", env: dpop, focus: rules.NeedDPoP},
		// JWT client authentication: private_key_jwt (ES256) under rfc6749,
		// client_secret_jwt (HS256) under oauth21; the RSA run repeats the
		// first with the RSA key (RS256, PS256 under VAR-ASSERTION-OTHER-ALG).
		selfRun{name: "rfc6749-jwt", profile: rules.RFC6749, file: "mock-rfc6749-jwt"},
		selfRun{name: "oauth21-jwt", profile: rules.OAuth21, file: "mock-oauth21-jwt"},
		selfRun{name: "rfc6749-jwt-rs256", profile: rules.RFC6749, file: "mock-rfc6749-jwt", env: map[string]string{"JWT_KEY_FILE": "../../fixtures/keys/jwt-client-rs256.pem"}},
		// The device authorization grant (RFC 8628): a confidential client
		// under rfc6749, a public one under oauth21.
		selfRun{name: "rfc6749-device", profile: rules.RFC6749, file: "mock-rfc6749-device", noCodes: true, device: true},
		selfRun{name: "oauth21-device", profile: rules.OAuth21, file: "mock-oauth21-device", noCodes: true, device: true})
}()

// notMutated are runs the mutation test leaves out: they repeat another
// run with another key (every mutant is tried in that run), so they are
// checked clean and under the legal variations only.
var notMutated = map[string]bool{"rfc6749-jwt-rs256": true}

var (
	setupOnce sync.Once
	fixtures  map[string]fixture
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

// mock returns the configuration of self-check run name against a shared
// in-process mock that honours per-request quirks.
func mock(t *testing.T, name string) target.Config {
	t.Helper()
	setupOnce.Do(func() {
		fixtures = map[string]fixture{}
		for _, run := range selfRuns {
			info, _ := rules.Info(run.profile)
			m, err := mockserver.StartLocal(info.Name, mockserver.WithQuirksFromHeader())
			if err != nil {
				setupErr = err
				return
			}
			closers = append(closers, m.Close)
			env := map[string]string{"PROFILE": string(info.Name)}
			env["TARGET"] = m.Base + mockserver.PathToken
			if !run.noCodes {
				env["AUTHORIZE_URL"] = m.Base + mockserver.PathAuthorize
			}
			if run.device {
				env["DEVICE_AUTHORIZATION_URL"] = m.Base + mockserver.PathDeviceAuthorization
				env["DEVICE_VERIFY_URL"] = m.Base + mockserver.PathDeviceVerify
			}
			env["CONFIG"] = "../../fixtures/targets/" + run.file + ".yaml"
			for k, v := range run.env {
				env[k] = v
			}
			cfg, err := plan.Resolve(func(k string) string { return env[k] })
			if err != nil {
				setupErr = fmt.Errorf("profile %s: %w", info.Name, err)
				return
			}
			fixtures[run.name] = fixture{profile: info.Name, cfg: cfg}
		}
	})
	if setupErr != nil {
		t.Fatal(setupErr)
	}
	return fixtures[name].cfg
}

// sideRaceAttempts is the race budget of the race rules in runs about
// other switches (isolation, legal variations): those runs ask whether the
// race rules stay green, which a few races answer, and there are hundreds
// of them. The clean-mock runs and the race rules' own mutants keep the
// default budget.
const sideRaceAttempts = 3

// runAll checks every rule of the profile with the given quirks on. It
// may be called from goroutines of a test: a runner it cannot build is an
// error and an empty result.
func runAll(t *testing.T, cfg target.Config, quirks ...string) map[rules.ID]conform.Verdict {
	t.Helper()
	cfg.Quirks = quirks
	r, err := conform.New(cfg)
	if err != nil {
		t.Error(err)
		return nil
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
	for _, run := range selfRuns {
		t.Run(run.name, func(t *testing.T) {
			t.Parallel()
			cfg := mock(t, run.name)
			verdicts := runAll(t, cfg)
			for id, v := range verdicts {
				if v.Status == reports.StatusFailed || v.Status == reports.StatusInconclusive {
					t.Errorf("clean mock: %s is %s:\n%s", id, v.Status, v)
				}
				if v.Violated && v.Policy.Mode == rules.ModeEnforce {
					t.Errorf("clean mock violates enforced rule %s (%s):\n%s", id, v.Status, v)
				}
			}
			t.Logf("run %s: %s", run.name, tally(verdicts))
		})
	}
}

// TestEveryRuleIsKilledByItsQuirk is mutation testing with the mock's fault
// switches as the mutants: a rule whose quirk the suite does not notice is
// either a rule that checks nothing or a switch nobody wired.
// TestClientCredentialsOnlyTarget: a target declaring only
// client_credentials, with no code source, gets a meaningful run: the
// client_credentials rules and the generic rules that need no code are
// judged and pass, every rule that needs a code or a refresh token is
// skipped saying which grant is undeclared, and the preflight recognises it.
func TestClientCredentialsOnlyTarget(t *testing.T) {
	t.Parallel()
	cfg := mock(t, "rfc6749-m2m")
	r, err := conform.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := r.Preflight(context.Background()); err != nil {
		t.Fatalf("preflight of a client_credentials-only target: %v", err)
	}
	verdicts := runAll(t, cfg)
	byNeed := func(rule rules.Rule, n rules.Need) bool { return slices.Contains(rule.Needs, n) }
	passed := 0
	for _, rule := range rules.For(rules.RFC6749) {
		v := verdicts[rule.ID]
		switch {
		case byNeed(rule, rules.NeedDPoP):
			if v.Status != reports.StatusSkipped || !strings.Contains(v.Reason, "set DPOP=true") {
				t.Errorf("%s needs DPoP, which the target does not declare: got %s %q, want skipped naming DPOP", rule.ID, v.Status, v.Reason)
			}
		case byNeed(rule, rules.NeedCode) || byNeed(rule, rules.NeedGrantCode):
			if v.Status != reports.StatusSkipped || !strings.Contains(v.Reason, "does not declare the authorization_code grant: set GRANTS") {
				t.Errorf("%s needs a code: got %s %q, want skipped naming GRANTS", rule.ID, v.Status, v.Reason)
			}
		case byNeed(rule, rules.NeedGrantRefresh):
			if v.Status != reports.StatusSkipped || !strings.Contains(v.Reason, "does not declare the refresh_token grant: set GRANTS") {
				t.Errorf("%s needs refresh tokens: got %s %q, want skipped naming GRANTS", rule.ID, v.Status, v.Reason)
			}
		case byNeed(rule, rules.NeedJWT):
			// The m2m client authenticates with client_secret_basic.
			if v.Status != reports.StatusSkipped || !strings.Contains(v.Reason, "CLIENT_AUTH=private_key_jwt") {
				t.Errorf("%s needs a JWT client: got %s %q, want skipped naming CLIENT_AUTH", rule.ID, v.Status, v.Reason)
			}
		case byNeed(rule, rules.NeedGrantDevice):
			if v.Status != reports.StatusSkipped || !strings.Contains(v.Reason, "does not declare the "+oauth.GrantDeviceCode+" grant: set GRANTS") {
				t.Errorf("%s needs the device grant: got %s %q, want skipped naming GRANTS", rule.ID, v.Status, v.Reason)
			}
		case byNeed(rule, rules.NeedGrantClientCredentials):
			if v.Status != reports.StatusPassed {
				t.Errorf("%s: got %s, want passed:\n%s", rule.ID, v.Status, v)
			}
			passed++
		default:
			if v.Status != reports.StatusPassed {
				t.Errorf("%s needs no code: got %s, want passed:\n%s", rule.ID, v.Status, v)
			}
		}
	}
	if passed < 8 {
		t.Errorf("%d client_credentials rules passed, want every one of them", passed)
	}
	t.Logf("run rfc6749-m2m: %s", tally(verdicts))
}

// TestDPoPRuns: against the clean mock every DPoP rule of the DPoP runs
// passes, but the two nonce rules, which are skipped saying the server
// demands no nonce; with the server demanding nonces (VAR-DPOP-NONCE) those
// two pass as well, so the use_dpop_nonce round trip is exercised, not
// passed falsely.
func TestDPoPRuns(t *testing.T) {
	t.Parallel()
	nonceRules := []rules.ID{rules.DPoPNonce.ID, rules.DPoPNonceMismatch.ID}
	for _, name := range []string{"rfc6749-dpop", "rfc6749-public-dpop", "oauth21-public-dpop"} {
		for _, quirks := range [][]string{nil, {string(rules.VarDPoPNonce.ID)}} {
			t.Run(name+"/"+strings.Join(append([]string{"clean"}, quirks...), "+"), func(t *testing.T) {
				t.Parallel()
				cfg := mock(t, name)
				cfg.RaceAttempts = sideRaceAttempts
				verdicts := runAll(t, cfg, quirks...)
				n := 0
				for _, rule := range rules.For(rules.Profile(cfg.Profile)) {
					if !slices.Contains(rule.Needs, rules.NeedDPoP) {
						continue
					}
					n++
					v := verdicts[rule.ID]
					switch {
					case rule.ID == rules.DPoPRefreshBound.ID && cfg.ClientSecret != "":
						if v.Status != reports.StatusSkipped {
							t.Errorf("%s with a confidential client: got %s, want skipped", rule.ID, v.Status)
						}
					case quirks == nil && slices.Contains(nonceRules, rule.ID):
						if v.Status != reports.StatusSkipped || !strings.Contains(v.Reason, "does not demand a DPoP nonce") {
							t.Errorf("%s against a mock demanding no nonce: got %s %q, want skipped saying so", rule.ID, v.Status, v.Reason)
						}
					case v.Status != reports.StatusPassed:
						t.Errorf("%s: got %s, want passed:\n%s", rule.ID, v.Status, v)
					}
				}
				if n != 16 {
					t.Errorf("%d DPoP rules in profile %s, want 16", n, cfg.Profile)
				}
			})
		}
	}
}

func TestEveryRuleIsKilledByItsQuirk(t *testing.T) {
	t.Parallel()
	// A mutant is a rule under a profile that enforces it; it may be tried in
	// several runs of that profile (oauth21 runs with a confidential and a
	// public client) and counts as killed when one run that judged it saw the
	// violation. A mutant no run could judge (every run skipped it for an
	// unmet need) survives: the self-check must exercise every rule.
	type mutant struct{ tried, killed bool }
	var mu sync.Mutex
	mutants := map[string]*mutant{}
	isolated, measured := 0, 0
	collateral := map[string][]string{}
	for _, info := range rules.ProfileInfos {
		for _, rule := range rules.For(info.Name) {
			if rule.Profiles[info.Name].Mode == rules.ModeEnforce {
				mutants[string(info.Name)+"/"+string(rule.ID)] = &mutant{}
			}
		}
	}
	t.Cleanup(func() {
		killed := 0
		var survivors []string
		for k, m := range mutants {
			if m.killed {
				killed++
				continue
			}
			why := "not killed"
			if !m.tried {
				why = "no run could judge it"
			}
			survivors = append(survivors, k+" ("+why+")")
		}
		sort.Strings(survivors)
		total := len(mutants)
		fmt.Printf("mutation score: %d/%d rule×profile mutants killed (%.1f%%)\n", killed, total, 100*float64(killed)/float64(max(total, 1)))
		if len(survivors) > 0 {
			fmt.Printf("surviving mutants: %s\n", strings.Join(survivors, ", "))
			t.Errorf("%d mutants survived: %s", len(survivors), strings.Join(survivors, ", "))
		}
		fmt.Printf("isolation: %d/%d switches break no other enforced rule of their run\n", isolated, measured)
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
	// try runs one mutant: rule's switch on in run, whose configuration is
	// cfg. Safe in goroutines of one test.
	try := func(t *testing.T, run selfRun, cfg target.Config, rule rules.Rule) {
		key := string(run.profile) + "/" + string(rule.ID)
		cfg.Quirks = []string{string(rule.ID)}
		r, err := conform.New(cfg)
		if err != nil {
			t.Error(err)
			return
		}
		defer r.Close()
		v := r.Run(context.Background(), rule)
		if v.Status == reports.StatusSkipped {
			return // this run cannot judge the rule (an unmet need); another may
		}
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
		m := mutants[key]
		m.tried = true
		measured++
		if len(others) == 0 {
			isolated++
		} else {
			collateral[run.name+"/"+string(rule.ID)] = others
		}
		if v.Violated {
			m.killed = true
			return
		}
		t.Errorf("quirk %s did not make the suite report the rule violated in run %s (status %s):\n%s", rule.ID, run.name, v.Status, v)
	}
	for _, run := range selfRuns {
		if notMutated[run.name] {
			continue
		}
		var tried []rules.Rule
		for _, rule := range rules.For(run.profile) {
			if rule.Profiles[run.profile].Mode != rules.ModeEnforce {
				continue
			}
			if run.focus != "" && !slices.Contains(rule.Needs, run.focus) {
				continue
			}
			if run.device && !slices.Contains(rule.Grants(), oauth.GrantDeviceCode) {
				continue
			}
			tried = append(tried, rule)
		}
		if run.device {
			// The device rules mostly wait (a device code's lifetime, the
			// polling interval): one subtest tries them all at once rather
			// than each holding a parallel test slot in turn.
			t.Run(run.name, func(t *testing.T) {
				t.Parallel()
				cfg := mock(t, run.name)
				var wg sync.WaitGroup
				for _, rule := range tried {
					wg.Add(1)
					go func() {
						defer wg.Done()
						try(t, run, cfg, rule)
					}()
				}
				wg.Wait()
			})
			continue
		}
		for _, rule := range tried {
			t.Run(run.name+"/"+string(rule.ID), func(t *testing.T) {
				t.Parallel()
				try(t, run, mock(t, run.name), rule)
			})
		}
	}
}

func TestLegalVariationsStayGreen(t *testing.T) {
	t.Parallel()
	check := func(t *testing.T, cfg target.Config, variation rules.Variation) {
		cfg.RaceAttempts = sideRaceAttempts
		for id, v := range runAll(t, cfg, string(variation.ID)) {
			if v.Status == reports.StatusFailed || v.Status == reports.StatusInconclusive {
				t.Errorf("legal variation %s (%s) leaves %s %s:\n%s", variation.ID, variation.Why, id, v.Status, v)
			}
		}
	}
	for _, run := range selfRuns {
		if run.device {
			// As for the mutants: the device runs wait, so one subtest
			// checks every variation at once.
			t.Run(run.name, func(t *testing.T) {
				t.Parallel()
				cfg := mock(t, run.name)
				var wg sync.WaitGroup
				for _, variation := range rules.VariationsFor(run.profile) {
					wg.Add(1)
					go func() {
						defer wg.Done()
						check(t, cfg, variation)
					}()
				}
				wg.Wait()
			})
			continue
		}
		for _, variation := range rules.VariationsFor(run.profile) {
			t.Run(run.name+"/"+string(variation.ID), func(t *testing.T) {
				t.Parallel()
				check(t, mock(t, run.name), variation)
			})
		}
	}
}

func tally(vs map[rules.ID]conform.Verdict) string {
	n := map[reports.Status]int{}
	for _, v := range vs {
		n[v.Status]++
	}
	return fmt.Sprintf("%d rules: %d passed, %d warned, %d waived, %d skipped, %d inconclusive, %d failed",
		len(vs), n[reports.StatusPassed], n[reports.StatusWarned], n[reports.StatusWaived], n[reports.StatusSkipped], n[reports.StatusInconclusive], n[reports.StatusFailed])
}
