package compare_test

import (
	"fmt"
	"os"

	"tokenharness/reports"
	"tokenharness/reports/compare"
)

func ExampleCompare() {
	run := func(p99, throughput float64) *reports.Load {
		return &reports.Load{
			APIVersion: reports.APIVersion, Kind: reports.KindLoad, Profile: "herd",
			Verdict: reports.VerdictPass, Valid: true, Requests: 6000,
			Throughput: throughput, SuccessRatio: 1,
			Latency: reports.Percentiles{P50: 2, P99: p99},
		}
	}
	baseline, current := run(10, 100), run(15, 98)
	res, err := compare.Compare(baseline, current, compare.DefaultTolerances())
	if err != nil {
		fmt.Println(err)
		return
	}
	res.Write(os.Stdout)
	fmt.Println("exit status:", map[bool]int{false: 0, true: 1}[res.Regressed])
	// Output:
	// load profile herd: 1 regression (7 compared)
	//
	// METRIC                   BASELINE  CURRENT  CHANGE     TOLERANCE  RESULT
	// p50_ms                   2         2        +0.0%      +10%       ok
	// p99_ms                   10        15       +50.0%     +10%       REGRESSED
	// throughput               100       98       -2.0%      -10%       ok
	// success_ratio            100.00%   100.00%  +0.00 pts  -1 pts     ok
	// multi_winner_groups      0         0        +0         +0         ok
	// duplicate_access_tokens  0         0        +0         +0         ok
	// dead_after_refresh       0         0        +0         +0         ok
	// exit status: 1
}
