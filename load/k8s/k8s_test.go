// Package k8s holds example manifests for running sharded load in
// Kubernetes (indexed-job.yaml, merge-job.yaml); this test keeps them
// consistent with the shard naming and arithmetic of the load packages.
package k8s

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"testing"

	"go.yaml.in/yaml/v3"

	"tokenharness/load"
	"tokenharness/load/shard"
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
