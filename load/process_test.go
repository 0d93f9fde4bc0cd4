package load

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"tokenharness/internal/rules"
	"tokenharness/reports"
)

// TestCommand_ShardProcessesMergeToOneRun is the scale-out path end to end:
// the real command, once whole and once as three shard processes started
// together (one START_AT) against the same target, then `tokenharness
// merge`. The merged totals must be the single run's, and its rate the
// single run's within 5%. The herd profile keeps the totals
// deterministic (every refresh succeeds); rotation races are compared in
// TestMerge_ShardsAddUpToOneRun against a server with a strict race.
func TestCommand_ShardProcessesMergeToOneRun(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the command")
	}
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	bin, _ := buildCommand(t)

	cfg := mockConfig(t, Herd, Params{})
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"),
		"TARGET=" + cfg.Endpoint.TokenURL, "AUTHORIZE_URL=" + strings.Replace(cfg.Endpoint.TokenURL, "/oauth/token", "/oauth/authorize", 1),
		"CLIENT_ID=" + cfg.Endpoint.ClientID, "CLIENT_SECRET=" + cfg.Endpoint.ClientSecret,
		"REDIRECT_URI=" + cfg.Endpoint.RedirectURI, "SCOPE=read",
		"LOAD_PROFILE=herd", "CLIENTS=75", "RATE=150", "DURATION=1s"}
	run := func(dir string, extra ...string) (string, error) {
		cmd := exec.CommandContext(ctx, bin, "load", "-max-lag", "5s")
		cmd.Env = append(append(append([]string(nil), env...), "REPORT_DIR="+dir), extra...)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		return out.String(), err
	}

	whole := t.TempDir()
	if out, err := run(whole); err != nil {
		t.Fatalf("single run: %v\n%s", err, out)
	}
	sharded := t.TempDir()
	var wg sync.WaitGroup
	const n = 3
	outs, errs := make([]string, n), make([]error, n)
	// Time enough for each process to start and mint its pool on a busy
	// two-core machine.
	startAt := "START_AT=" + time.Now().Add(3*time.Second).UTC().Format(time.RFC3339Nano)
	for i := range n {
		wg.Go(func() { outs[i], errs[i] = run(sharded, fmt.Sprintf("SHARD=%d/%d", i, n), startAt) })
	}
	wg.Wait()
	for i := range errs {
		if errs[i] != nil {
			t.Fatalf("shard %d: %v\n%s", i, errs[i], outs[i])
		}
	}
	merged := filepath.Join(t.TempDir(), "merged")
	base := filepath.Join(sharded, "load", "herd")
	margs := []string{"merge", "-out", merged}
	for i := range n {
		margs = append(margs, filepath.Join(base, fmt.Sprintf("shard-%d-of-%d", i, n)))
	}
	mc := exec.CommandContext(ctx, bin, margs...)
	mout, err := mc.CombinedOutput()
	if err != nil {
		t.Fatalf("merge: %v\n%s\nshards:\n%s", err, mout, strings.Join(outs, "\n"))
	}

	one, err := reports.ReadLoad(filepath.Join(whole, "load", "herd", ReportJSON))
	if err != nil {
		t.Fatal(err)
	}
	two, err := reports.ReadLoad(filepath.Join(merged, ReportJSON))
	if err != nil {
		t.Fatal(err)
	}
	if one.Requests == 0 || one.Requests != two.Requests || !reflect.DeepEqual(one.StatusCodes, two.StatusCodes) ||
		!reflect.DeepEqual(one.ErrorClasses, two.ErrorClasses) {
		t.Errorf("merged: %d requests %v errors %v; single run: %d requests %v errors %v",
			two.Requests, two.StatusCodes, two.ErrorClasses, one.Requests, one.StatusCodes, one.ErrorClasses)
	}
	if math.Abs(two.Rate-one.Rate) > 0.05*one.Rate {
		t.Errorf("merged rate %.1f req/s, single run %.1f req/s: more than 5%% apart", two.Rate, one.Rate)
	}
	if two.ShardSkew == nil || two.ShardSkew.Allowed {
		t.Errorf("merged shard_skew = %+v, want measured and within tolerance", two.ShardSkew)
	}
	t.Logf("single run: %d requests at %.1f req/s; %d shards merged: %d requests at %.1f req/s, skew %+v",
		one.Requests, one.Rate, n, two.Requests, two.Rate, two.ShardSkew)
	if two.Shards != n || two.Verdict != one.Verdict {
		t.Errorf("merged shards %d verdict %s, single verdict %s", two.Shards, two.Verdict, one.Verdict)
	}

	// compare writes its page beside CURRENT, and removes a stale one when
	// it refuses its input.
	cc := exec.CommandContext(ctx, bin, "compare", "-baseline", filepath.Join(whole, "load", "herd", ReportJSON), "-current", filepath.Join(merged, ReportJSON))
	// Latency of runs this short differs by more than the tolerances now
	// and then: a regression (exit 1) writes the page too.
	if out, _ := cc.CombinedOutput(); cc.ProcessState.ExitCode() > 1 {
		t.Errorf("compare single run with merged: exit %d\n%s", cc.ProcessState.ExitCode(), out)
	}
	page, err := os.ReadFile(filepath.Join(merged, "compare.html"))
	if err != nil || !bytes.Contains(page, []byte(`<svg class="chart compare-latency"`)) {
		t.Errorf("compare.html beside the current report: %v", err)
	}
	cc = exec.CommandContext(ctx, bin, "compare", "-baseline", filepath.Join(t.TempDir(), "missing.json"), "-current", filepath.Join(merged, ReportJSON))
	if out, _ := cc.CombinedOutput(); cc.ProcessState.ExitCode() != 2 {
		t.Errorf("compare with a missing baseline: exit %d, want 2\n%s", cc.ProcessState.ExitCode(), out)
	}
	if _, err := os.Stat(filepath.Join(merged, "compare.html")); err == nil {
		t.Error("a refused comparison left the earlier compare.html beside the current report")
	}

	// The command's other promises, while the binary is built.
	tests := []struct {
		name     string
		args     []string
		env      []string
		wantExit int
		wantOut  string
		wantNot  string // must not appear: work the command should not have started
	}{
		{"a remote target is refused", []string{"load"}, []string{"TARGET=https://auth.example.com/oauth/token", "CLIENT_ID=x"}, 2, "ALLOW_REMOTE=1", ""},
		{"no target: the bundled mock", []string{"load"}, []string{"LOAD_PROFILE=soak", "RATE=50", "DURATION=300ms"}, 0, "started the bundled mock", ""},
		{"the race quirk fails the run", []string{"load"}, []string{"LOAD_PROFILE=rotation-race", "RATE=80", "DURATION=500ms",
			"QUIRKS=" + string(rules.RefreshRace.ID)}, 1, "race_winners <= 1: failed", ""},
		{"a race against a server that does not rotate is inconclusive", []string{"load"}, []string{"LOAD_PROFILE=rotation-race",
			"RATE=80", "DURATION=500ms", "QUIRKS=" + string(rules.VarNoRotation.ID)}, 3, "race_winners <= 1: not_applicable — the server did not rotate", ""},
		{"a threshold the profile does not measure is refused up front", []string{"load"}, []string{"LOAD_PROFILE=herd",
			"THRESHOLDS=knee_rate=100"}, 2, "knee_rate (measured by ramp only) does not apply to profile herd", "started the bundled mock"},
		{"START_AT in the past is refused up front", []string{"load"}, []string{"START_AT=2020-01-01T00:00:00Z"}, 2, "in the past", "started the bundled mock"},
		{"START_AT not a time", []string{"load", "--start-at", "soon"}, nil, 2, "RFC 3339", "started the bundled mock"},
		{"METRICS_ADDR without a port is refused up front", []string{"load"}, []string{"METRICS_ADDR=9464"}, 2, "host:port", "started the bundled mock"},
		{"-list", []string{"load", "-list"}, nil, 0, "rotation-race", ""},
		{"unknown profile", []string{"load"}, []string{"LOAD_PROFILE=stampede"}, 2, "herd|ramp|rotation-race|spike|soak|mixed", ""},
		{"bad RATE", []string{"load"}, []string{"RATE=fast"}, 2, "RATE", ""},
		{"merge without shards", []string{"merge", "-out", t.TempDir()}, nil, 2, "usage", ""},
	}
	for _, tt := range tests {
		cmd := exec.CommandContext(ctx, bin, tt.args...)
		cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "REPORT_DIR=" + t.TempDir()}, tt.env...)
		out, _ := cmd.CombinedOutput()
		if code := cmd.ProcessState.ExitCode(); code != tt.wantExit || !strings.Contains(string(out), tt.wantOut) ||
			(tt.wantNot != "" && strings.Contains(string(out), tt.wantNot)) {
			t.Errorf("%s: exit %d, want %d; output does not contain %q, or contains %q?\n%s", tt.name, code, tt.wantExit, tt.wantOut, tt.wantNot, out)
		}
	}
}
