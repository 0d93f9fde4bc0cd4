// Package k8s holds example manifests for running sharded load in
// Kubernetes (indexed-job.yaml, merge-job.yaml); this test keeps them
// consistent with the shard naming and arithmetic of the load packages.
package k8s

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"tokenharness/internal/plan"
	"tokenharness/load"
	"tokenharness/load/shard"
	"tokenharness/mockserver/mockcontainer"
)

type job struct {
	Kind     string `yaml:"kind"`
	Metadata struct {
		Name string `yaml:"name"`
	} `yaml:"metadata"`
	Spec struct {
		CompletionMode string `yaml:"completionMode"`
		Completions    int    `yaml:"completions"`
		Parallelism    int    `yaml:"parallelism"`
		Template       struct {
			Spec struct {
				Containers []struct {
					Args []string `yaml:"args"`
					Env  []struct {
						Name  string `yaml:"name"`
						Value string `yaml:"value"`
					} `yaml:"env"`
				} `yaml:"containers"`
			} `yaml:"spec"`
		} `yaml:"template"`
	} `yaml:"spec"`
}

func readJobs(t *testing.T, path string) []job {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	var jobs []job
	for {
		var j job
		if err := dec.Decode(&j); errors.Is(err, io.EOF) {
			return jobs
		} else if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if j.Kind == "Job" {
			jobs = append(jobs, j)
		}
	}
}

func TestManifests_ShardsAndMergeAgree(t *testing.T) {
	t.Parallel()
	shards := readJobs(t, "indexed-job.yaml")
	merge := readJobs(t, "merge-job.yaml")
	if len(shards) != 1 || len(merge) != 1 {
		t.Fatalf("want one Job per file, got %d and %d", len(shards), len(merge))
	}
	j := shards[0]
	if j.Spec.CompletionMode != "Indexed" || j.Spec.Completions != j.Spec.Parallelism {
		t.Errorf("load Job: completionMode %q, completions %d, parallelism %d; want Indexed and all shards at once",
			j.Spec.CompletionMode, j.Spec.Completions, j.Spec.Parallelism)
	}
	env := map[string]string{}
	for _, e := range j.Spec.Template.Spec.Containers[0].Env {
		env[e.Name] = e.Value
	}
	m := regexp.MustCompile(`^\$\(JOB_COMPLETION_INDEX\)/(\d+)$`).FindStringSubmatch(env["SHARD"])
	if m == nil {
		t.Fatalf("SHARD = %q, want $(JOB_COMPLETION_INDEX)/N", env["SHARD"])
	}
	n, _ := strconv.Atoi(m[1])
	if n != j.Spec.Completions {
		t.Errorf("SHARD splits %d ways, the Job has %d completions", n, j.Spec.Completions)
	}
	args := merge[0].Spec.Template.Spec.Containers[0].Args
	var want []string
	for i := range n {
		want = append(want, load.Dir(env["REPORT_DIR"], env["LOAD_PROFILE"], shard.Shard{I: uint64(i), N: uint64(n)}))
	}
	if len(args) < 3 || args[0] != "merge" || fmt.Sprint(args[3:]) != fmt.Sprint(want) {
		t.Errorf("merge args %v; want merge -out DIR %v", args, want)
	}
}

// loadVariables are the variables `tokenharness load` reads: those its -h
// lists (each flag names its variable as "($NAME)"), the target settings it
// resolves through internal/plan, and ALLOW_REMOTE.
func loadVariables(t *testing.T) map[string]bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	bin := filepath.Join(t.TempDir(), "tokenharness")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "tokenharness/cmd/tokenharness")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, _ := exec.CommandContext(ctx, bin, "load", "-h").CombinedOutput() // -h exits 2 after printing
	vars := map[string]bool{"ALLOW_REMOTE": true}
	for _, m := range regexp.MustCompile(`\(\$([A-Z0-9_]+)\)`).FindAllStringSubmatch(string(out), -1) {
		vars[m[1]] = true
	}
	if !vars["START_AT"] || !vars["SHARD"] {
		t.Fatalf("load -h does not list START_AT and SHARD:\n%s", out)
	}
	for _, v := range plan.ConformanceVars() {
		vars[v] = true
	}
	return vars
}

// The load Job's variables, set or suggested in comments, are all ones the
// command reads, and START_AT is one instant for every pod: filled in when
// the manifest is applied, refused in one line if it is not.
func TestManifests_LoadJobSpeaksTheCommandsLanguage(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the command")
	}
	t.Parallel()
	vars := loadVariables(t)
	j := readJobs(t, "indexed-job.yaml")[0]
	env := map[string]string{}
	for _, e := range j.Spec.Template.Spec.Containers[0].Env {
		env[e.Name] = e.Value
		if !vars[e.Name] && e.Name != "JOB_COMPLETION_INDEX" {
			t.Errorf("indexed-job.yaml sets %s, which tokenharness load does not read", e.Name)
		}
	}
	raw, err := os.ReadFile("indexed-job.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range regexp.MustCompile(`#\s*- \{name: ([A-Z0-9_]+)`).FindAllStringSubmatch(string(raw), -1) {
		if !vars[m[1]] {
			t.Errorf("indexed-job.yaml suggests %s in a comment, which tokenharness load does not read", m[1])
		}
	}
	if args := j.Spec.Template.Spec.Containers[0].Args; len(args) == 0 || args[0] != "load" {
		t.Errorf("load Job args %v, want load", args)
	}

	if env["START_AT"] != "${START_AT}" || !strings.Contains(string(raw), "envsubst '$START_AT'") {
		t.Fatalf("START_AT = %q, want ${START_AT} filled by the envsubst the header shows", env["START_AT"])
	}
	now := time.Now()
	at := now.Add(2 * time.Minute).UTC().Format(time.RFC3339) // what the header's date command gives
	if _, err := load.ParseStartAt(strings.ReplaceAll(env["START_AT"], "${START_AT}", at), now); err != nil {
		t.Errorf("START_AT as applied: %v", err)
	}
	if _, err := load.ParseStartAt(env["START_AT"], now); err == nil || strings.Contains(err.Error(), "\n") {
		t.Errorf("START_AT applied without envsubst: %v, want a one-line refusal", err)
	}
}

// TestManifests_UseTheImageMakeImageBuilds: the Jobs run the image `make
// image` tags, not a name nobody builds.
func TestManifests_UseTheImageMakeImageBuilds(t *testing.T) {
	t.Parallel()
	want := mockcontainer.HarnessRepo + ":latest"
	for _, f := range []string{"indexed-job.yaml", "merge-job.yaml"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		images := regexp.MustCompile(`(?m)^\s+image:\s*(\S+)`).FindAllStringSubmatch(string(b), -1)
		if len(images) == 0 {
			t.Errorf("%s names no image", f)
		}
		for _, m := range images {
			if m[1] != want {
				t.Errorf("%s runs image %s, want %s (what make image builds)", f, m[1], want)
			}
		}
	}
}
