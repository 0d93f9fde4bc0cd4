package load

import (
	"bytes"
	"context"
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

// TestCommand_TwoShardProcessesMergeToOneRun is the scale-out path end to end:
// the real command, once whole and once as two concurrent shard processes
// against the same target, then `tokenharness merge`. The merged totals
// must be the single run's. The herd profile keeps the totals
// deterministic (every refresh succeeds); rotation races are compared in
// TestMerge_ShardsAddUpToOneRun against a server with a strict race.
func TestCommand_TwoShardProcessesMergeToOneRun(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the command")
	}
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	root, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "tokenharness")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/tokenharness")
	build.Dir = filepath.Dir(strings.TrimSpace(string(root)))
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

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
	outs, errs := make([]string, 2), make([]error, 2)
	for i, s := range []string{"0/2", "1/2"} {
		wg.Go(func() { outs[i], errs[i] = run(sharded, "SHARD="+s) })
	}
	wg.Wait()
	for i := range errs {
		if errs[i] != nil {
			t.Fatalf("shard %d: %v\n%s", i, errs[i], outs[i])
		}
	}
	merged := filepath.Join(t.TempDir(), "merged")
	base := filepath.Join(sharded, "load", "herd")
	mc := exec.CommandContext(ctx, bin, "merge", "-out", merged, filepath.Join(base, "shard-0-of-2"), filepath.Join(base, "shard-1-of-2"))
	if out, err := mc.CombinedOutput(); err != nil {
		t.Fatalf("merge: %v\n%s", err, out)
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
	if two.Shards != 2 || two.Verdict != one.Verdict {
		t.Errorf("merged shards %d verdict %s, single verdict %s", two.Shards, two.Verdict, one.Verdict)
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
