package mockserver

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"tokenharness/internal/rules"
)

// syncBuffer is a log sink safe for concurrent writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Debug logs describe every request and never carry a secret: client
// secrets, codes, tokens, verifiers or the API key.
func TestLogsCarryNoSecrets(t *testing.T) {
	t.Parallel()
	for _, p := range profiles() {
		t.Run(string(p), func(t *testing.T) {
			t.Parallel()
			var logs syncBuffer
			cfg, err := LoadConfig(p, "")
			if err != nil {
				t.Fatal(err)
			}
			cfg.APIKey = "th-log-test-api-key-5521"
			h := newHarnessCfg(t, cfg, WithLogger(slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))))
			key := []string{"X-Api-Key", cfg.APIKey}
			g := h.code(codeOpts{})
			first := h.redeem(g, key...)
			second := h.refresh(first.str("refresh_token"), key...)
			h.redeem(g, key...) // replay
			h.post(h.redeemForm(h.code(codeOpts{})), post(client1, secret1+"x"), key...)
			h.post(h.redeemForm(h.code(codeOpts{})), basic(client1, secret1), key...)
			secrets := []string{secret1, secret1 + "x", secret2, g.code, g.verifier, cfg.APIKey,
				first.str("access_token"), first.str("refresh_token"), second.str("access_token"), second.str("refresh_token")}
			out := logs.String()
			if !strings.Contains(out, `"msg":"token request"`) {
				t.Fatalf("no request logs:\n%s", out)
			}
			for _, s := range secrets {
				if s != "" && strings.Contains(out, s) {
					t.Errorf("the log carries the secret %.6s...", s)
				}
			}
			if p == rules.RFC6749 && !strings.Contains(out, `"error":"invalid_client"`) {
				t.Errorf("the failed authentication is not logged:\n%s", out)
			}
		})
	}
}
