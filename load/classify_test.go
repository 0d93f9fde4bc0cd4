package load

import (
	"net/url"
	"testing"
	"time"

	"tokenharness/internal/oauth"
	"tokenharness/reports"
)

func TestClassifyResponse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		code      uint16
		body      string
		wantClass string
		wantRT    string
	}{
		{"token response", 200, `{"access_token":"at1","token_type":"Bearer","refresh_token":"rt1"}`, ClassOK, "rt1"},
		{"spaces and escapes", 200, `{ "access_token" : "a\/t", "refresh_token":"r\"t" }`, ClassOK, `r"t`},
		{"name as a value first", 200, `{"scope":"refresh_token","access_token":"at","refresh_token":"rt"}`, ClassOK, "rt"},
		{"no refresh token", 200, `{"access_token":"at"}`, ClassOK, ""},
		{"no access token", 200, `{"token_type":"Bearer"}`, ClassBadResponse, ""},
		{"html", 200, `<html>`, ClassNotJSON, ""},
		{"invalid_grant", 400, `{"error":"invalid_grant"}`, ClassInvalidGrant, ""},
		{"invalid_client", 401, `{"error":"invalid_client"}`, ClassInvalidClient, ""},
		{"other oauth error", 400, `{"error":"invalid_scope"}`, ClassOtherOAuth, ""},
		{"4xx without body", 404, ``, Class4xx, ""},
		{"rate limited", 429, `{"error":"slow_down"}`, Class429, ""},
		{"rate limit as 503", 503, ``, Class5xx, ""},
		{"redirect", 302, ``, Class3xx, ""},
	}
	for _, tt := range tests {
		class, tr := classifyResponse(tt.code, []byte(tt.body))
		if class != tt.wantClass || tr.RefreshToken != tt.wantRT {
			t.Errorf("%s: got %s %q, want %s %q", tt.name, class, tr.RefreshToken, tt.wantClass, tt.wantRT)
		}
	}
}

func TestClassifyTransport(t *testing.T) {
	t.Parallel()
	for err, want := range map[string]string{
		`Post "http://x": context deadline exceeded (Client.Timeout exceeded while awaiting headers)`: ClassTimeout,
		`dial tcp 127.0.0.1:1: connect: connection refused`:                                           ClassRefused,
		`Post "http://x": EOF`: ClassConnCut,
		`tls: bad certificate`: ClassTransport,
	} {
		if got := classifyTransport(err); got != want {
			t.Errorf("classifyTransport(%q) = %s, want %s", err, got, want)
		}
	}
}

func TestAnnotation_RoundTrip(t *testing.T) {
	t.Parallel()
	for _, a := range []annotation{
		{Class: ClassOK, Lag: 1234},
		{Class: ClassInvalidGrant, Notes: NoteRaceLoser},
		{Class: ClassOK, Notes: NoteRotated | NoteDuplicateAccessToken, Lag: time.Second},
	} {
		got, ok := parseAnnotation(a.encode())
		if !ok || got != a {
			t.Errorf("round trip of %+v: %q → %+v", a, a.encode(), got)
		}
	}
	if _, ok := parseAnnotation(""); ok {
		t.Error("empty annotation parsed")
	}
}

func TestRequests_EncodeClientAuthentication(t *testing.T) {
	t.Parallel()
	tests := []struct {
		auth       oauth.AuthMethod
		wantHeader bool
		wantForm   url.Values
	}{
		{oauth.AuthBasic, true, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"r t+/"}}},
		{oauth.AuthPost, false, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"r t+/"},
			"client_id": {"c&1"}, "client_secret": {"s=2"}}},
		{oauth.AuthNone, false, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"r t+/"}, "client_id": {"c&1"}}},
	}
	for _, tt := range tests {
		r := newRequests(Endpoint{TokenURL: "http://127.0.0.1/t", ClientID: "c&1", ClientSecret: "s=2", Auth: tt.auth})
		got, err := url.ParseQuery(string(r.refreshBody("r t+/")))
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(tt.wantForm) {
			t.Errorf("%s: form %v, want %v", tt.auth, got, tt.wantForm)
		}
		for k, v := range tt.wantForm {
			if got.Get(k) != v[0] {
				t.Errorf("%s: %s = %q, want %q", tt.auth, k, got.Get(k), v[0])
			}
		}
		if has := r.header.Get(oauth.HeaderAuthorization) != ""; has != tt.wantHeader {
			t.Errorf("%s: Authorization header present = %v", tt.auth, has)
		}
	}
	r := newRequests(Endpoint{TokenURL: "http://127.0.0.1/t", ClientID: "c", Auth: oauth.AuthNone, RedirectURI: "http://cb/"})
	got, _ := url.ParseQuery(string(r.codeBody(Code{Code: "k", Verifier: "v~"})))
	if got.Get("code") != "k" || got.Get("code_verifier") != "v~" || got.Get("redirect_uri") != "http://cb/" ||
		got.Get("grant_type") != oauth.GrantAuthorizationCode {
		t.Errorf("code body = %v", got)
	}
}

func TestParseFragment(t *testing.T) {
	t.Parallel()
	tests := []struct {
		url  string
		kind requestKind
		id   int
	}{
		{"http://h/t#s=12", kindSlot, 12},
		{"http://h/t#r=0", kindRace, 0},
		{"http://h/t#c=7", kindCode, 7},
		{"http://h/t#pool-exhausted", kindExhausted, -1},
		{"http://h/t", kindUnknown, -1},
		{"http://h/t#s=x", kindUnknown, -1},
	}
	for _, tt := range tests {
		if k, id := parseFragment(tt.url); k != tt.kind || id != tt.id {
			t.Errorf("parseFragment(%q) = %d %d, want %d %d", tt.url, k, id, tt.kind, tt.id)
		}
	}
}

func TestJudge(t *testing.T) {
	t.Parallel()
	ths := []Threshold{Max(P99, 10), Max(RaceWinners, 1)}
	one := map[string]uint64{"1": 5}
	tests := []struct {
		name  string
		l     reports.Load
		want  reports.Verdict
		codes int
	}{
		{"all met", reports.Load{Valid: true, Requests: 20, Latency: reports.Percentiles{P99: 5},
			Correctness: reports.Correctness{RaceWinners: one}}, reports.VerdictPass, 0},
		{"latency broke", reports.Load{Valid: true, Requests: 20, Latency: reports.Percentiles{P99: 50},
			Correctness: reports.Correctness{RaceWinners: one}}, reports.VerdictFail, 1},
		{"generator behind: not judged", reports.Load{Valid: false, InvalidWhy: "lag", Requests: 20, Latency: reports.Percentiles{P99: 50},
			Correctness: reports.Correctness{RaceWinners: one}}, reports.VerdictError, 2},
		{"generator behind but two winners: fails", reports.Load{Valid: false, InvalidWhy: "lag", Requests: 20,
			Correctness: reports.Correctness{RaceWinners: map[string]uint64{"2": 1}}}, reports.VerdictFail, 1},
	}
	for _, tt := range tests {
		l := tt.l
		judge(&l, ths)
		if l.Verdict != tt.want || ExitCode(&l) != tt.codes {
			t.Errorf("%s: verdict %s exit %d, want %s %d", tt.name, l.Verdict, ExitCode(&l), tt.want, tt.codes)
		}
	}
}

func TestFinish_MarksALaggingRunInvalid(t *testing.T) {
	t.Parallel()
	l := &reports.Load{Valid: true, GeneratorLag: reports.Percentiles{P99: 250}}
	finish(l, Soak, Soak.Defaults, []Threshold{Max(P99, 1000)}, 100*time.Millisecond)
	if l.Valid || l.InvalidWhy == "" || l.Verdict != reports.VerdictError {
		t.Errorf("valid %v why %q verdict %s; want invalid with a reason and verdict error", l.Valid, l.InvalidWhy, l.Verdict)
	}
}

func TestParseLimits(t *testing.T) {
	t.Parallel()
	got, err := ParseLimits("p99_ms=100, error_rate=0.05")
	if err != nil || got["p99_ms"] != 100 || got["error_rate"] != 0.05 {
		t.Errorf("ParseLimits = %v, %v", got, err)
	}
	for _, bad := range []string{"p99=1", "p99_ms", "p99_ms=x", "p99_ms=NaN"} {
		if _, err := ParseLimits(bad); err == nil {
			t.Errorf("ParseLimits(%q) accepted", bad)
		}
	}
	ths, err := resolve(Profile{Name: "herd", Thresholds: []Threshold{Max(P99, 250), Max(DuplicateAccessTokens, 0)}},
		map[string]float64{"p99_ms": 5, "error_rate": 0.5})
	if err != nil || len(ths) != 3 || ths[0].Limit != 5 || ths[2].Metric.Name != "error_rate" {
		t.Fatalf("resolve = %v, %v", ths, err)
	}
	// What the user set is what they asked to be judged.
	if !ths[0].Required || ths[1].Required || !ths[2].Required {
		t.Errorf("required: %v %v %v, want true false true", ths[0].Required, ths[1].Required, ths[2].Required)
	}
}

func TestRegistry(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for _, p := range Profiles() {
		if seen[p.Name] || p.Name == "" || p.Doc == "" || p.Pacer == nil || p.Workload == "" || len(p.Thresholds) == 0 {
			t.Errorf("profile %q is duplicated or incomplete", p.Name)
		}
		seen[p.Name] = true
		if err := p.Defaults.validate(p.Workload); err != nil {
			t.Errorf("%s defaults: %v", p.Name, err)
		}
		if got, err := ByName(p.Name); err != nil || got.Name != p.Name {
			t.Errorf("ByName(%s) = %v", p.Name, err)
		}
	}
	for _, want := range []string{"herd", "ramp", "rotation-race", "spike", "soak", "mixed"} {
		if !seen[want] {
			t.Errorf("profile %s is not registered", want)
		}
	}
	if _, err := ByName("nope"); err == nil {
		t.Error("ByName(nope) succeeded")
	}
}
