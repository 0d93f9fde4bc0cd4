package mockserver

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"tokenharness/internal/oauth"
	"tokenharness/internal/rules"
)

// quirkCase exercises one behavioural quirk: run sends requests and
// summarises what a client observed. The clean server must observe clean;
// the server with the quirk on must observe something else.
type quirkCase struct {
	profile rules.Profile
	config  func(*Config) // optional adjustment of the fixture config
	run     func(h *harness) string
	clean   string
}

// behaviouralCases has one entry per behavioural quirk: every rule whose
// fault is not a wire fault, and every behavioural VAR-* variation.
// TestEveryBehaviouralQuirkChangesBehaviour fails for a missing entry.
var behaviouralCases = map[rules.ID]quirkCase{
	rules.UnsupportedGrantType.ID: {rules.RFC6749, nil, func(h *harness) string {
		return h.post(url.Values{"grant_type": {"urn:tokenharness:unknown"}}, h.auth(1)).summary()
	}, "400 unsupported_grant_type"},
	rules.MissingGrantType.ID: {rules.RFC6749, nil, func(h *harness) string {
		f := h.redeemForm(h.code(codeOpts{}))
		f.Del("grant_type")
		return h.post(f, h.auth(1)).summary()
	}, "400 invalid_request"},
	rules.InvalidGrant.ID: {rules.RFC6749, nil, func(h *harness) string {
		return h.post(url.Values{"grant_type": {"authorization_code"}, "code": {"unknown"}, "redirect_uri": {callback}}, h.auth(1)).summary()
	}, "400 invalid_grant"},
	rules.CCClientAuth.ID: {rules.RFC6749, nil, func(h *harness) string {
		return h.post(ccForm(""), noAuth).summary()
	}, "400 invalid_client"},
	rules.CCWrongSecret.ID: {rules.RFC6749, nil, func(h *harness) string {
		return h.post(ccForm(""), post(client1, "wrong")).summary()
	}, "400 invalid_client"},
	rules.CCNoUpscope.ID: {rules.RFC6749, nil, func(h *harness) string {
		r := h.post(ccForm("read tokenharness.upscope"), basic(client1, secret1))
		return r.summary() + " " + r.str("scope")
	}, "400 invalid_scope "},
	rules.CCUnauthorizedClient.ID: {rules.RFC6749, nil, func(h *harness) string {
		return h.post(ccForm(""), basic(client2, secret2)).summary()
	}, "400 unauthorized_client"},
	rules.PasswordGrantRemoved.ID: {rules.OAuth21, nil, func(h *harness) string {
		return h.post(url.Values{"grant_type": {"password"}, "username": {"u"}, "password": {"p"}}, h.auth(1)).summary()
	}, "400 unsupported_grant_type"},
	rules.BasicSupported.ID: {rules.RFC6749, nil, func(h *harness) string {
		return h.post(h.redeemForm(h.code(codeOpts{})), basic(client1, secret1)).summary()
	}, "200 tokens"},
	rules.WrongSecret.ID: {rules.Commoninja, nil, func(h *harness) string {
		return h.post(h.redeemForm(h.code(codeOpts{})), post(client1, "wrong")).summary()
	}, "400 invalid_client"},
	rules.OneAuthMethod.ID: {rules.RFC6749, nil, func(h *harness) string {
		f := h.redeemForm(h.code(codeOpts{}))
		f.Set("client_id", client1)
		f.Set("client_secret", secret1)
		return h.post(f, basic(client1, secret1)).summary()
	}, "400 invalid_request"},
	rules.UnknownClient.ID: {rules.RFC6749, nil, func(h *harness) string {
		return h.post(h.redeemForm(h.code(codeOpts{})), post("tokenharness-unknown", "x")).summary()
	}, "400 invalid_client"},
	rules.ClientIdentified.ID: {rules.RFC6749, nil, func(h *harness) string {
		return h.post(h.redeemForm(h.code(codeOpts{})), noAuth).summary()
	}, "400 invalid_client"},
	rules.NoSecretInURI.ID: {rules.RFC6749, nil, func(h *harness) string {
		req := tokenReq(h.redeemForm(h.code(codeOpts{})), noAuth)
		req.URL.RawQuery = url.Values{"client_id": {client1}, "client_secret": {secret1}}.Encode()
		return h.serve(req).summary()
	}, "400 invalid_client"},
	rules.CodeSingleUse.ID: {rules.RFC6749, nil, func(h *harness) string {
		g := h.code(codeOpts{})
		h.redeem(g)
		return h.redeem(g).summary()
	}, "400 invalid_grant"},
	rules.CodeReplayRevokes.ID: {rules.RFC6749, nil, func(h *harness) string {
		g := h.code(codeOpts{})
		first := h.redeem(g)
		h.redeem(g)
		return "refresh after replay: " + h.refresh(first.str("refresh_token")).summary()
	}, "refresh after replay: 400 invalid_grant"},
	rules.CodeClientBound.ID: {rules.RFC6749, nil, func(h *harness) string {
		return h.post(h.redeemForm(h.code(codeOpts{})), h.auth(2)).summary()
	}, "400 invalid_grant"},
	rules.CodeRedirectMatch.ID: {rules.RFC6749, nil, func(h *harness) string {
		f := h.redeemForm(h.code(codeOpts{}))
		f.Set("redirect_uri", "https://tokenharness.invalid/other")
		return h.post(f, h.auth(1)).summary()
	}, "400 invalid_grant"},
	rules.CodeRedirectRequired.ID: {rules.RFC6749, nil, func(h *harness) string {
		f := h.redeemForm(h.code(codeOpts{}))
		f.Del("redirect_uri")
		return h.post(f, h.auth(1)).summary()
	}, "400 invalid_request"},
	rules.PKCEVerified.ID: {rules.OAuth21, nil, func(h *harness) string {
		f := h.redeemForm(h.code(codeOpts{}))
		f.Set("code_verifier", "wrong-verifier-wrong-verifier-wrong-verifier-0123456789")
		return h.post(f, h.auth(1)).summary()
	}, "400 invalid_grant"},
	rules.PKCEVerifierRequired.ID: {rules.OAuth21, nil, func(h *harness) string {
		f := h.redeemForm(h.code(codeOpts{}))
		f.Del("code_verifier")
		return h.post(f, h.auth(1)).summary()
	}, "400 invalid_grant"},
	rules.PKCEVerifierSyntax.ID: {rules.OAuth21, nil, func(h *harness) string {
		return h.redeem(h.code(codeOpts{verifier: "short-verifier-0123456789"})).summary()
	}, "400 invalid_grant"},
	rules.PKCERequired.ID: {rules.OAuth21, nil, func(h *harness) string {
		v := location(h.t, h.serve(h.authorizeReq(codeOpts{method: "none"})))
		if e := v.Get("error"); e != "" {
			return "authorize: " + e
		}
		return h.redeem(grant{code: v.Get("code"), redirect: callback, client: 1}).summary()
	}, "authorize: invalid_request"},
	rules.RefreshWrongSecret.ID: {rules.RFC6749, nil, func(h *harness) string {
		return h.post(h.refreshForm(h.tokens(codeOpts{}).str("refresh_token")), basic(client1, "wrong")).summary()
	}, "401 invalid_client"},
	rules.RefreshClientBound.ID: {rules.RFC6749, nil, func(h *harness) string {
		return h.post(h.refreshForm(h.tokens(codeOpts{}).str("refresh_token")), h.auth(2)).summary()
	}, "400 invalid_grant"},
	rules.RefreshNoUpscope.ID: {rules.RFC6749, nil, func(h *harness) string {
		f := h.refreshForm(h.tokens(codeOpts{scope: "read"}).str("refresh_token"))
		f.Set("scope", "read tokenharness.upscope")
		return h.post(f, h.auth(1)).summary()
	}, "400 invalid_scope"},
	rules.RefreshInvalid.ID: {rules.RFC6749, nil, func(h *harness) string {
		return h.refresh("tokenharness-unknown-refresh-token").summary()
	}, "400 invalid_grant"},
	rules.RefreshWithoutRedirect.ID: {rules.RFC6749, nil, func(h *harness) string {
		return h.refresh(h.tokens(codeOpts{}).str("refresh_token")).summary()
	}, "200 tokens"},
	rules.RefreshRotation.ID: {rules.OAuth21, nil, rotation, "rotated"},
	rules.RefreshReuseRejected.ID: {rules.OAuth21, nil, func(h *harness) string {
		rt := h.tokens(codeOpts{}).str("refresh_token")
		h.refresh(rt)
		return h.refresh(rt).summary()
	}, "400 invalid_grant"},
	rules.RefreshReuseRevokesFamily.ID: {rules.OAuth21, nil, func(h *harness) string {
		rt := h.tokens(codeOpts{}).str("refresh_token")
		next := h.refresh(rt).str("refresh_token")
		h.refresh(rt)
		return h.refresh(next).summary()
	}, "400 invalid_grant"},
	rules.PostOnly.ID: {rules.RFC6749, nil, func(h *harness) string {
		req := httptest.NewRequest(http.MethodGet, PathToken+"?"+h.redeemForm(h.code(codeOpts{})).Encode(), nil)
		req.Header.Set(oauth.HeaderAuthorization, basicHeader(client1, secret1))
		return h.serve(req).summary()
	}, "405 invalid_request"},
	rules.FormEncoded.ID: {rules.RFC6749, nil, func(h *harness) string {
		obj := map[string]string{}
		f := h.redeemForm(h.code(codeOpts{}))
		for k := range f {
			obj[k] = f.Get(k)
		}
		b, _ := json.Marshal(obj)
		req := rawReq(http.MethodPost, PathToken, oauth.MediaJSON, string(b))
		req.Header.Set(oauth.HeaderAuthorization, basicHeader(client1, secret1))
		return h.serve(req).summary()
	}, "400 invalid_request"},
	rules.WrongContentType.ID: {rules.RFC6749, nil, func(h *harness) string {
		req := tokenReq(h.redeemForm(h.code(codeOpts{})), h.auth(1))
		req.Header.Set(oauth.HeaderContentType, "text/plain")
		return h.serve(req).summary()
	}, "400 invalid_request"},
	rules.DuplicateParams.ID: {rules.RFC6749, nil, func(h *harness) string {
		f := h.redeemForm(h.code(codeOpts{}))
		f.Add("grant_type", "authorization_code")
		return h.post(f, h.auth(1)).summary()
	}, "400 invalid_request"},
	rules.EmptyParamOmitted.ID: {rules.RFC6749, nil, func(h *harness) string {
		f := h.redeemForm(h.code(codeOpts{}))
		f.Set("grant_type", "")
		return h.post(f, h.auth(1)).summary()
	}, "400 invalid_request"},
	rules.UnknownParamsIgnored.ID: {rules.RFC6749, nil, func(h *harness) string {
		f := h.redeemForm(h.code(codeOpts{}))
		f.Set("tokenharness_unknown", "ignored")
		return h.post(f, h.auth(1)).summary()
	}, "200 tokens"},
	rules.HugeBody.ID: {rules.RFC6749, nil, func(h *harness) string {
		f := url.Values{"grant_type": {"authorization_code"}, "code": {"x"}, "pad": {strings.Repeat("a", 1<<20)}}
		return h.post(f, h.auth(1)).summary()
	}, "413 invalid_request"},
	rules.InvalidUTF8.ID: {rules.RFC6749, nil, func(h *harness) string {
		f := url.Values{"grant_type": {"authorization_code"}, "code": {"\xff\xfe\xfd-tokenharness"}, "redirect_uri": {callback}}
		return h.post(f, h.auth(1)).summary()
	}, "400 invalid_request"},
	rules.CodeRace.ID: {rules.RFC6749, nil, func(h *harness) string {
		g := h.code(codeOpts{})
		return race(h, 4, func() *result { return h.redeem(g) })
	}, "1 of 4 won"},
	rules.RefreshRace.ID: {rules.OAuth21, nil, func(h *harness) string {
		rt := h.tokens(codeOpts{}).str("refresh_token")
		return race(h, 4, func() *result { return h.refresh(rt) })
	}, "1 of 4 won"},
	rules.CommoninjaSecretInBody.ID: {rules.Commoninja, nil, func(h *harness) string {
		return h.post(h.redeemForm(h.code(codeOpts{})), post(client1, secret1)).summary()
	}, "200 tokens"},
	rules.DressipiRefreshRedirectRequired.ID: {rules.Dressipi, nil, func(h *harness) string {
		f := h.refreshForm(h.tokens(codeOpts{}).str("refresh_token"))
		f.Del("redirect_uri")
		return h.post(f, h.auth(1)).summary()
	}, "400 invalid_request"},
	rules.DressipiRefreshRedirectOOB.ID: {rules.Dressipi, nil, func(h *harness) string {
		f := h.refreshForm(h.tokens(codeOpts{}).str("refresh_token"))
		f.Set("redirect_uri", "https://tokenharness.invalid/callback")
		return h.post(f, h.auth(1)).summary()
	}, "400 invalid_grant"},
	rules.DressipiAPIKey.ID: {rules.Dressipi, func(c *Config) { c.APIKey = "th-test-api-key-1234" }, func(h *harness) string {
		return h.redeem(h.code(codeOpts{})).summary()
	}, "401 invalid_client"},
	rules.RefreshClientAuth.ID: {rules.RFC6749, nil, func(h *harness) string {
		return h.post(h.refreshForm(h.tokens(codeOpts{}).str("refresh_token")), noAuth).summary()
	}, "400 invalid_client"},
	rules.InvalidScope.ID: {rules.RFC6749, nil, func(h *harness) string {
		f := h.refreshForm(h.tokens(codeOpts{}).str("refresh_token"))
		f.Set("scope", `read"tokenharness`)
		return h.post(f, h.auth(1)).summary()
	}, "400 invalid_scope"},
	rules.RotatedScopeKept.ID: {rules.OAuth21, nil, func(h *harness) string {
		f := h.refreshForm(h.tokens(codeOpts{scope: "read write"}).str("refresh_token"))
		f.Set("scope", "read")
		next := h.post(f, h.auth(1)).str("refresh_token")
		f = h.refreshForm(next)
		f.Set("scope", "read write")
		return h.post(f, h.auth(1)).summary()
	}, "200 tokens"},
	rules.PKCEMethodBound.ID: {rules.OAuth21, nil, func(h *harness) string {
		g := h.code(codeOpts{})
		g.verifier = s256(g.verifier)
		return h.redeem(g).summary()
	}, "400 invalid_grant"},
	rules.PKCEDowngrade.ID: {rules.OAuth21, nil, func(h *harness) string {
		v := location(h.t, h.serve(h.authorizeReq(codeOpts{method: "none"})))
		if e := v.Get("error"); e != "" {
			return "authorize: " + e
		}
		return h.redeem(grant{code: v.Get("code"), redirect: callback, client: 1, verifier: verifier}).summary()
	}, "authorize: invalid_request"},
	rules.OAuth21SecretPost.ID: {rules.OAuth21, nil, func(h *harness) string {
		return h.post(h.redeemForm(h.code(codeOpts{})), post(client1, secret1)).summary()
	}, "200 tokens"},
	rules.OAuth21InvalidReplayKeepsTokens.ID: {rules.OAuth21, nil, func(h *harness) string {
		g := h.code(codeOpts{})
		first := h.redeem(g)
		g.verifier = "tokenharness-wrong-verifier-0123456789abcdefghijklmnop"
		h.redeem(g)
		return "refresh after invalid replay: " + h.refresh(first.str("refresh_token")).summary()
	}, "refresh after invalid replay: 200 tokens"},
	rules.VarInvalidClient401.ID: {rules.RFC6749, nil, func(h *harness) string {
		return h.post(h.redeemForm(h.code(codeOpts{})), post(client1, "wrong")).summary()
	}, "400 invalid_client"},
	rules.VarRefreshRotation.ID: {rules.RFC6749, nil, rotation, "not rotated"},
	rules.VarNoRotation.ID:      {rules.Dressipi, nil, rotation, "rotated"},
	rules.VarUpscopeIgnored.ID: {rules.RFC6749, nil, func(h *harness) string {
		f := h.refreshForm(h.tokens(codeOpts{scope: "read"}).str("refresh_token"))
		f.Set("scope", "read tokenharness.upscope")
		return h.post(f, h.auth(1)).summary()
	}, "400 invalid_scope"},
}

func rotation(h *harness) string {
	rt := h.tokens(codeOpts{}).str("refresh_token")
	if next := h.refresh(rt).str("refresh_token"); next != "" && next != rt {
		return "rotated"
	}
	return "not rotated"
}

// race sends n copies of a request at once and counts the winners. The
// race quirks' sleep is replaced by a barrier that releases once all n
// requests passed the check, so the faulty outcome does not depend on
// scheduling; a clean server never reaches it.
func race(h *harness, n int, send func() *result) string {
	var barrier sync.WaitGroup
	barrier.Add(n)
	h.srv.sleep = func(time.Duration) {
		barrier.Done()
		barrier.Wait()
	}
	start := make(chan struct{})
	results := make([]*result, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			results[i] = send()
		}()
	}
	close(start)
	wg.Wait()
	won := 0
	for _, r := range results {
		if r.status == http.StatusOK {
			won++
		}
	}
	return fmt.Sprintf("%d of %d won", won, n)
}

// ccForm is a client_credentials request, asking for scope if not "".
func ccForm(scope string) url.Values {
	f := url.Values{"grant_type": {"client_credentials"}}
	if scope != "" {
		f.Set("scope", scope)
	}
	return f
}

// behavioural lists every quirk id whose fault is switched at an
// enforcement line rather than on the wire, with the profile it is
// enforced in.
func behavioural() map[rules.ID][]rules.Profile {
	out := map[rules.ID][]rules.Profile{}
	for _, r := range rules.All() {
		if !r.Fault.Wire() {
			out[r.ID] = r.Profiles.Names()
		}
	}
	for _, v := range rules.Variations() {
		// Client variations change the harness's requests; the mock has
		// nothing to switch for them.
		if !v.Fault.Wire() && !v.Client {
			out[v.ID] = v.Profiles
		}
	}
	return out
}

// TestEveryBehaviouralQuirkChangesBehaviour fails if a rule's behavioural
// quirk is missing here or changes nothing: that is a fault switch nobody
// wired into an enforcement line.
func TestEveryBehaviouralQuirkChangesBehaviour(t *testing.T) {
	t.Parallel()
	for id, profiles := range behavioural() {
		t.Run(string(id), func(t *testing.T) {
			t.Parallel()
			tc, ok := behaviouralCases[id]
			if !ok {
				t.Fatalf("no quirk case for %s: add one to behaviouralCases (and a q.On(rules.X.ID) at its enforcement line)", id)
			}
			if !containsProfile(profiles, tc.profile) {
				t.Fatalf("case runs in %s, but %s is only in %v", tc.profile, id, profiles)
			}
			cfg, err := loadTest(tc.profile, "")
			if err != nil {
				t.Fatal(err)
			}
			if tc.config != nil {
				tc.config(&cfg)
			}
			if got := tc.run(newHarnessCfg(t, cfg)); got != tc.clean {
				t.Errorf("clean server: got %q, want %q", got, tc.clean)
			}
			if got := tc.run(newHarnessCfg(t, cfg, WithQuirks(id))); got == tc.clean {
				t.Errorf("with quirk %s on: got %q, the same as the clean server", id, got)
			}
		})
	}
}

func containsProfile(ps []rules.Profile, p rules.Profile) bool {
	for _, q := range ps {
		if q == p {
			return true
		}
	}
	return false
}

// wireSubject provokes a response the fault touches.
func wireSubject(h *harness, on rules.FaultOn) *result {
	switch on {
	case rules.OnError:
		// A failed Basic authentication: the error response with the most
		// headers (WWW-Authenticate) for faults to remove.
		if h.profile == rules.Dressipi {
			return h.post(h.redeemForm(h.code(codeOpts{})), noAuth)
		}
		return h.post(h.redeemForm(h.code(codeOpts{})), basic(client1, "wrong"))
	case rules.OnRefreshSuccess:
		return h.refresh(h.tokens(codeOpts{}).str("refresh_token"))
	case rules.OnCCSuccess:
		return h.post(ccForm(""), basic(client1, secret1))
	}
	return h.redeem(h.code(codeOpts{}))
}

// TestEveryWireFaultIsApplied checks the one generic middleware against
// every wire fault the catalogue declares: the quirked response shows the
// fault's effect and the clean one does not.
func TestEveryWireFaultIsApplied(t *testing.T) {
	t.Parallel()
	type subject struct {
		id      rules.ID
		fault   rules.Fault
		profile rules.Profile
	}
	var subjects []subject
	for _, r := range rules.All() {
		if r.Fault.Wire() {
			p := r.Profiles.Names()[0]
			for _, info := range rules.ProfileInfos {
				if pol, ok := r.Profiles[info.Name]; ok && pol.Mode == rules.ModeEnforce {
					p = info.Name
					break
				}
			}
			subjects = append(subjects, subject{r.ID, r.Fault, p})
		}
	}
	for _, v := range rules.Variations() {
		if v.Fault.Wire() {
			subjects = append(subjects, subject{v.ID, v.Fault, v.Profiles[0]})
		}
	}
	for _, s := range subjects {
		t.Run(string(s.id), func(t *testing.T) {
			t.Parallel()
			clean := wireSubject(newHarness(t, s.profile), s.fault.On)
			quirked := wireSubject(newHarness(t, s.profile, WithQuirks(s.id)), s.fault.On)
			f := s.fault
			if f.DropHeader != "" && (clean.header.Get(f.DropHeader) == "" || quirked.header.Get(f.DropHeader) != "") {
				t.Errorf("drop header %s: clean %q, quirked %q", f.DropHeader, clean.header.Get(f.DropHeader), quirked.header.Get(f.DropHeader))
			}
			if k, v := f.SetHeader[0], f.SetHeader[1]; k != "" && (clean.header.Get(k) == v || quirked.header.Get(k) != v) {
				t.Errorf("set header %s: clean %q, quirked %q", k, clean.header.Get(k), quirked.header.Get(k))
			}
			if k := f.DropField; k != "" {
				if _, has := clean.obj[k]; !has {
					t.Errorf("drop field %s: the clean response has none: %s", k, clean.body)
				}
				if _, has := quirked.obj[k]; has {
					t.Errorf("drop field %s: still in %s", k, quirked.body)
				}
			}
			if k := f.SetField; k != "" {
				want, _ := json.Marshal(f.Value)
				got, _ := json.Marshal(quirked.obj[k])
				before, _ := json.Marshal(clean.obj[k])
				if string(got) != string(canonical(t, want)) || string(before) == string(got) {
					t.Errorf("set field %s: clean %s, quirked %s, want %s", k, before, got, want)
				}
			}
			if k := f.StringifyField; k != "" {
				n, isNum := clean.obj[k].(json.Number)
				if s, isStr := quirked.obj[k].(string); !isNum || !isStr || s != n.String() {
					t.Errorf("stringify %s: clean %v, quirked %#v", k, clean.obj[k], quirked.obj[k])
				}
			}
			if f.Status != 0 && (clean.status == f.Status || quirked.status != f.Status) {
				t.Errorf("status: clean %d, quirked %d, want %d", clean.status, quirked.status, f.Status)
			}
			if f.Body != "" && quirked.body != f.Body {
				t.Errorf("body: quirked %q, want %q", quirked.body, f.Body)
			}
		})
	}
}

// canonical re-encodes JSON through a generic value so key order and
// number forms compare equal.
func canonical(t *testing.T, b []byte) []byte {
	t.Helper()
	var v any
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		t.Fatal(err)
	}
	out, _ := json.Marshal(v)
	return out
}

func TestQuirkSources(t *testing.T) {
	t.Parallel()
	noStore := string(rules.NoStore.ID)
	t.Run("header honoured only when enabled", func(t *testing.T) {
		t.Parallel()
		off := newHarness(t, rules.RFC6749)
		if r := off.redeem(off.code(codeOpts{}), oauth.HeaderQuirk, noStore); r.header.Get(oauth.HeaderCacheControl) != "no-store" {
			t.Errorf("header quirk applied without WithQuirksFromHeader: %v", r.header)
		}
		on := newHarness(t, rules.RFC6749, WithQuirksFromHeader())
		if r := on.redeem(on.code(codeOpts{}), oauth.HeaderQuirk, " "+noStore+" , "+string(rules.PragmaNoCache.ID)); r.header.Get(oauth.HeaderCacheControl) != "" || r.header.Get(oauth.HeaderPragma) != "" {
			t.Errorf("header quirks not applied: %v", r.header)
		}
		if r := on.redeem(on.code(codeOpts{})); r.header.Get(oauth.HeaderCacheControl) != "no-store" {
			t.Errorf("a request without the header is affected: %v", r.header)
		}
	})
	t.Run("unknown header quirk", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, rules.RFC6749, WithQuirksFromHeader())
		r := h.redeem(h.code(codeOpts{}), oauth.HeaderQuirk, "RFC6749-NOT-A-RULE")
		if r.status != 400 || r.errCode() != "invalid_request" || !strings.Contains(r.str("error_description"), "RFC6749-NOT-A-RULE") {
			t.Errorf("got %d %s, want 400 invalid_request naming the id", r.status, r.body)
		}
		checkErrorShape(t, r)
		req := h.authorizeReq(codeOpts{header: []string{oauth.HeaderQuirk, "NOPE"}})
		if r := h.serve(req); r.status != 400 || r.errCode() != "invalid_request" {
			t.Errorf("authorize: got %d %s, want 400 invalid_request", r.status, r.body)
		}
	})
	t.Run("per client", func(t *testing.T) {
		t.Parallel()
		cfg, err := loadTest(rules.RFC6749, "")
		if err != nil {
			t.Fatal(err)
		}
		cfg.Clients[1].Quirks = []rules.ID{rules.NoStore.ID, rules.PostOnly.ID}
		h := newHarnessCfg(t, cfg)
		if r := h.redeem(h.code(codeOpts{client: 2})); r.status != 200 || r.header.Get(oauth.HeaderCacheControl) != "" {
			t.Errorf("client 2 (quirk on): %d %v", r.status, r.header)
		}
		if r := h.redeem(h.code(codeOpts{client: 1})); r.header.Get(oauth.HeaderCacheControl) != "no-store" {
			t.Errorf("client 1 (no quirk): %v", r.header)
		}
		// A parse-stage quirk applies too: the client is named before parsing.
		get := httptest.NewRequest(http.MethodGet, PathToken+"?"+h.redeemForm(h.code(codeOpts{client: 2})).Encode(), nil)
		get.Header.Set(oauth.HeaderAuthorization, basicHeader(client2, secret2))
		if r := h.serve(get); r.status != 200 {
			t.Errorf("client 2 GET under its POST-ONLY quirk: %d %s", r.status, r.body)
		}
	})
	t.Run("unknown quirk is a startup error", func(t *testing.T) {
		t.Parallel()
		cfg, err := loadTest(rules.RFC6749, "")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := New(cfg, WithQuirks("RFC6749-NOT-A-RULE")); err == nil || !strings.Contains(err.Error(), "RFC6749-NOT-A-RULE") {
			t.Errorf("New with an unknown quirk: %v", err)
		}
		cfg.Clients[0].Quirks = []rules.ID{"NOPE"}
		if _, err := New(cfg); err == nil || !strings.Contains(err.Error(), "NOPE") {
			t.Errorf("New with an unknown client quirk: %v", err)
		}
	})
}
