package load

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"tokenharness/internal/codes"
	"tokenharness/internal/rules"
	"tokenharness/load/shard"
	"tokenharness/reports"
)

// countingCodes counts the codes a run asks for: one per minted token.
type countingCodes struct {
	src  codes.Source
	n    atomic.Int64
	fail bool // refuse every code: minting fails
}

func (c *countingCodes) Code(ctx context.Context, r codes.Request) (string, error) {
	c.n.Add(1)
	if c.fail {
		return "", errors.New("the code source is down")
	}
	return c.src.Code(ctx, r)
}

// poolRunConfig is a short soak against the mock (profile mp) saving its
// pool to a file in a fresh directory, with minting counted.
func poolRunConfig(t *testing.T, mp rules.Profile) (Config, *countingCodes) {
	t.Helper()
	// 40 requests on 20 slots: each slot is used (the pool lends them in
	// turn), and a slot may be out for half a second on a loaded machine.
	cfg := mockConfigOf(t, mp, Soak, Params{Rate: 40, Duration: time.Second, Clients: 20})
	cc := &countingCodes{src: cfg.Codes}
	cfg.Codes = cc
	cfg.PoolFile = filepath.Join(t.TempDir(), "pool.json")
	return cfg, cc
}

func readSaved(t *testing.T, path string) savedPool {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if m := st.Mode().Perm(); m != 0o600 {
		t.Errorf("%s mode %v, want 0600: it holds live refresh tokens", path, m)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var sp savedPool
	if err := json.Unmarshal(b, &sp); err != nil {
		t.Fatal(err)
	}
	return sp
}

func unexpected(l *reports.Load) uint64 { return l.Outcomes.UnexpectedFailures }

func TestPoolFile_RoundTripWithoutRotationMintsNothing(t *testing.T) {
	t.Parallel()
	cfg, cc := poolRunConfig(t, rules.RFC6749)
	l := mustRun(t, cfg)
	if n := cc.n.Load(); n != 20 || unexpected(l) != 0 {
		t.Fatalf("first run: %d codes, %d unexpected failures; want 20 minted and none", n, unexpected(l))
	}
	first := readSaved(t, cfg.PoolFile)
	if len(first.RefreshTokens) != 20 || first.ClientID != cfg.Endpoint.ClientID || first.Target != PublicURL(cfg.Endpoint.TokenURL) {
		t.Fatalf("saved %d tokens for %s / %s", len(first.RefreshTokens), first.Target, first.ClientID)
	}

	cfg.Dir = t.TempDir()
	l = mustRun(t, cfg)
	if n := cc.n.Load(); n != 20 {
		t.Errorf("second run asked for %d codes, want none (20 from the first run)", n-20)
	}
	if unexpected(l) != 0 || l.Outcomes.Succeeded != l.Requests || l.Requests == 0 {
		t.Errorf("second run: %d requests, %d succeeded, errors %v", l.Requests, l.Outcomes.Succeeded, l.ErrorClasses)
	}
	second := readSaved(t, cfg.PoolFile)
	if strings.Join(second.RefreshTokens, " ") != strings.Join(first.RefreshTokens, " ") || !second.MintedAt.Equal(first.MintedAt) {
		t.Errorf("a server that does not rotate: the saved pool changed (minted %s, then %s)", first.MintedAt, second.MintedAt)
	}
}

func TestPoolFile_RotatedTokensAreSavedAndReused(t *testing.T) {
	t.Parallel()
	cfg, cc := poolRunConfig(t, rules.OAuth21)
	l := mustRun(t, cfg)
	if l.Correctness.RefreshesRotated == 0 || unexpected(l) != 0 {
		t.Fatalf("first run: %d rotations, errors %v", l.Correctness.RefreshesRotated, l.ErrorClasses)
	}
	first := readSaved(t, cfg.PoolFile)

	cfg.Dir = t.TempDir()
	l = mustRun(t, cfg)
	if n := cc.n.Load(); n != 20 {
		t.Errorf("second run asked for %d codes, want none", n-20)
	}
	// Spent tokens saved instead of the rotated ones would be refused
	// (invalid_grant) by a server that rotates.
	if unexpected(l) != 0 || l.Outcomes.Succeeded != l.Requests || l.Requests == 0 {
		t.Errorf("second run on the saved pool: %d requests, %d succeeded, errors %v", l.Requests, l.Outcomes.Succeeded, l.ErrorClasses)
	}
	second := readSaved(t, cfg.PoolFile)
	if len(second.RefreshTokens) != 20 {
		t.Fatalf("saved %d tokens after the second run, want 20", len(second.RefreshTokens))
	}
	spent := map[string]bool{}
	for _, tok := range first.RefreshTokens {
		spent[tok] = true
	}
	for i, tok := range second.RefreshTokens {
		if spent[tok] {
			t.Errorf("token %d of the saved pool is one the second run spent, not its rotation", i)
		}
	}
}

func TestPoolFile_RefusesAnotherTargetClientOrAge(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		edit func(*savedPool)
		want string
	}{
		{"client", func(sp *savedPool) { sp.ClientID = "someone-else" }, `for client "someone-else"`},
		{"target", func(sp *savedPool) { sp.Target = "http://127.0.0.1:1/token" }, "for target http://127.0.0.1:1/token"},
		{"age", func(sp *savedPool) { sp.MintedAt = time.Now().Add(-2 * time.Hour) }, "more than POOL_MAX_AGE 1h0m0s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg, cc := poolRunConfig(t, rules.RFC6749)
			sp := savedPool{Target: PublicURL(cfg.Endpoint.TokenURL), ClientID: cfg.Endpoint.ClientID, MintedAt: time.Now(),
				RefreshTokens: []string{"secret-refresh-token-1"}}
			tc.edit(&sp)
			if err := writePool(cfg.PoolFile, &sp); err != nil {
				t.Fatal(err)
			}
			before, _ := os.ReadFile(cfg.PoolFile)
			_, err := Run(context.Background(), cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("err = %v, want one line containing %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "secret-refresh-token") {
				t.Errorf("the refusal quotes a token: %v", err)
			}
			if n := cc.n.Load(); n != 0 {
				t.Errorf("%d codes asked for before the refusal", n)
			}
			if after, _ := os.ReadFile(cfg.PoolFile); string(after) != string(before) {
				t.Error("a refused POOL_FILE was changed")
			}
		})
	}
}

func TestPoolFile_RefusedForRacesAndShards(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t, RotationRace, tiny["rotation-race"], "http://127.0.0.1:1")
	cfg.PoolFile = filepath.Join(t.TempDir(), "pool.json")
	if _, err := Resolve(cfg); err == nil || !strings.Contains(err.Error(), "POOL_FILE does not apply") {
		t.Errorf("rotation-race with POOL_FILE: err = %v", err)
	}
	cfg = testConfig(t, Soak, tiny["soak"], "http://127.0.0.1:1")
	cfg.PoolFile = filepath.Join(t.TempDir(), "pool.json")
	var err error
	if cfg.Shard, err = shard.Parse("0/2"); err != nil {
		t.Fatal(err)
	}
	if _, err := Resolve(cfg); err == nil || !strings.Contains(err.Error(), "shards would overwrite") {
		t.Errorf("SHARD with POOL_FILE: err = %v", err)
	}
}

func TestPoolFile_RefusesAMissingDirectoryBeforeMinting(t *testing.T) {
	t.Parallel()
	cfg, cc := poolRunConfig(t, rules.RFC6749)
	cfg.PoolFile = filepath.Join(t.TempDir(), "no-such-dir", "pool.json")
	_, err := Run(context.Background(), cfg)
	if err == nil || !strings.Contains(err.Error(), "directory does not exist") || cc.n.Load() != 0 {
		t.Errorf("err = %v after %d codes; want a refusal before minting", err, cc.n.Load())
	}
}

func TestPoolFile_PutBackWhenMintingTheRestFails(t *testing.T) {
	t.Parallel()
	cfg, cc := poolRunConfig(t, rules.RFC6749)
	cfg.Params.Clients = 5
	mustRun(t, cfg)
	first := readSaved(t, cfg.PoolFile)

	cfg.Params.Clients, cfg.Dir, cc.fail = 20, t.TempDir(), true
	if _, err := Run(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), "the code source is down") {
		t.Fatalf("err = %v, want the minting failure", err)
	}
	after := readSaved(t, cfg.PoolFile)
	if strings.Join(after.RefreshTokens, " ") != strings.Join(first.RefreshTokens, " ") {
		t.Errorf("after a run that failed to mint the rest, POOL_FILE holds %d tokens, want the 5 loaded", len(after.RefreshTokens))
	}
}

func TestCheckPoolFile_RefusesTheReportDirectory(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		file, dir string
		refused   bool
	}{
		{"reports/pool.json", "reports", true},
		{"reports/load/soak/pool.json", "./reports", true},
		{"pool.json", "reports", false},
		{"../pool.json", ".", false},
		{"reports-pool.json", "reports", false},
		{"", "reports", false},
	} {
		if err := CheckPoolFile(tc.file, tc.dir); (err != nil) != tc.refused {
			t.Errorf("CheckPoolFile(%q, %q) = %v, refused want %v", tc.file, tc.dir, err, tc.refused)
		}
	}
}
