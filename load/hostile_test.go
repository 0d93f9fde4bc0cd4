package load

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"tokenharness/internal/hostile"
	"tokenharness/internal/oauth"
	"tokenharness/internal/rules"
	"tokenharness/internal/target"
	"tokenharness/mockserver"
)

// hostileRefresh serves the real mock for authorize and code exchanges, so
// the token pool mints, and hands every refresh to bad: the target turns
// hostile exactly when the load starts.
func hostileRefresh(t *testing.T, bad *httptest.Server) Config {
	t.Helper()
	mc, err := mockserver.LoadConfig(rules.OAuth21, "")
	if err != nil {
		t.Fatal(err)
	}
	mock, err := mockserver.New(mc, mockserver.WithJanitorInterval(0))
	if err != nil {
		t.Fatal(err)
	}
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		r.Body = io.NopCloser(bytes.NewReader(body))
		if r.URL.Path == mockserver.PathToken && strings.Contains(string(body), oauth.ParamGrantType+"="+oauth.GrantRefreshToken) {
			r.Body = io.NopCloser(bytes.NewReader(body))
			bad.Config.Handler.ServeHTTP(w, r)
			return
		}
		mock.ServeHTTP(w, r)
	}))
	t.Cleanup(func() { front.Close(); bad.Close(); mock.Close() })
	c := mc.Clients[0]
	tc := target.Default()
	tc.Target, tc.AuthorizeURL = front.URL+mockserver.PathToken, front.URL+mockserver.PathAuthorize
	tc.ClientID, tc.ClientSecret, tc.RedirectURI, tc.Scope = c.ID, c.Secret, c.RedirectURIs[0], "read"
	cfg, err := FromTarget(tc, false)
	if err != nil {
		t.Fatal(err)
	}
	pr, err := ByName("soak")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Profile, cfg.Dir, cfg.MaxLag, cfg.TargetKind = pr, t.TempDir(), 2*time.Second, "external"
	cfg.Params = Params{Rate: 40, Duration: time.Second, Timeout: 500 * time.Millisecond}
	return cfg
}

// TestHostileTargetsUnderLoad: whatever the target does to refreshes, the
// run finishes in bounded time, counts every such request as an error of a
// named class, and fails its thresholds rather than crashing or hanging.
func TestHostileTargetsUnderLoad(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		srv  *httptest.Server
	}{
		{"hangs", hostile.Hang()},
		{"slower than the timeout", hostile.Slow(2 * time.Second)},
		{"cuts mid-body", hostile.CutMidBody()},
		{"answers HTML", hostile.HTML()},
		{"answers 10 MB", hostile.Huge(10 << 20)},
		{"answers invalid JSON", hostile.InvalidJSON()},
		{"redirects in a loop", hostile.RedirectLoop()},
		{"answers an empty body", hostile.Empty()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := hostileRefresh(t, tt.srv)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			start := time.Now()
			l, err := Run(ctx, cfg)
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if took := time.Since(start); took > 15*time.Second {
				t.Errorf("the run took %v against a 1 s profile with a 500 ms timeout", took)
			}
			var failed uint64
			for _, n := range l.ErrorClasses {
				failed += n
			}
			if l.Requests == 0 || failed != l.Requests {
				t.Errorf("%d requests, %d counted as errors by class %v; want every one", l.Requests, failed, l.ErrorClasses)
			}
			if ExitCode(l) == 0 {
				t.Errorf("exit 0 against a target that failed every refresh; thresholds %+v", l.Thresholds)
			}
		})
	}
}
