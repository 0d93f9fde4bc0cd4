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

	"tokenharness/reports"
)

// TestShards_TwoProcessesMergeToOneRun is the scale-out path end to end:
// the real command, once whole and once as two concurrent shard processes
// against the same target, then `tokenharness merge`. The merged totals
// must be the single run's.
func TestShards_TwoProcessesMergeToOneRun(t *testing.T) {
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

	cfg := mockConfig(t, RotationRace, Params{})
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"),
		"TARGET=" + cfg.Endpoint.TokenURL, "AUTHORIZE_URL=" + strings.Replace(cfg.Endpoint.TokenURL, "/oauth/token", "/oauth/authorize", 1),
		"CLIENT_ID=" + cfg.Endpoint.ClientID, "CLIENT_SECRET=" + cfg.Endpoint.ClientSecret,
		"REDIRECT_URI=" + cfg.Endpoint.RedirectURI, "SCOPE=read",
		"LOAD_PROFILE=rotation-race", "RATE=150", "DURATION=1s"}
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
	base := filepath.Join(sharded, "load", "rotation-race")
	mc := exec.CommandContext(ctx, bin, "merge", "-out", merged, filepath.Join(base, "shard-0-of-2"), filepath.Join(base, "shard-1-of-2"))
	if out, err := mc.CombinedOutput(); err != nil {
		t.Fatalf("merge: %v\n%s", err, out)
	}

	one, err := reports.ReadLoad(filepath.Join(whole, "load", "rotation-race", ReportJSON))
	if err != nil {
		t.Fatal(err)
	}
	two, err := reports.ReadLoad(filepath.Join(merged, ReportJSON))
	if err != nil {
		t.Fatal(err)
	}
	if one.Requests != two.Requests || !reflect.DeepEqual(one.StatusCodes, two.StatusCodes) ||
		!reflect.DeepEqual(one.Correctness.RaceWinners, two.Correctness.RaceWinners) {
		t.Errorf("merged: %d requests %v winners %v; single run: %d requests %v winners %v",
			two.Requests, two.StatusCodes, two.Correctness.RaceWinners, one.Requests, one.StatusCodes, one.Correctness.RaceWinners)
	}
	if two.Shards != 2 || two.Verdict != one.Verdict {
		t.Errorf("merged shards %d verdict %s, single verdict %s", two.Shards, two.Verdict, one.Verdict)
	}
}
