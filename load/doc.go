// Package load runs refresh-storm load profiles against an OAuth 2.0 token
// endpoint with vegeta as a library, and judges them.
//
// A profile (herd, ramp, rotation-race, spike, soak, mixed) is one declared
// Profile value: name, documentation, defaults, an open-model Schedule and
// thresholds. Run mints a pool of live refresh tokens through the target's
// own authorize + code exchange flow, then attacks on the schedule with a
// targeter that draws tokens from the pool and hands rotated ones back
// (RFC 9700 §4.14.2, https://www.rfc-editor.org/rfc/rfc9700#section-4.14.2),
// correlating each result with its token slot through the URL fragment.
// Unless CLIENTS sets it, the refresh pool is sized from the target's
// refresh latency, measured on a few probe tokens before minting
// (poolsize.go); with POOL_FILE the pool is saved after the run, rotated
// tokens in place of spent ones, and the next run for the same target and
// client loads it instead of minting (poolfile.go).
//
// What the harness measures, and the vegeta traps it avoids (load/LOAD.md):
//   - latency runs from each request's intended send time, not from when a
//     worker picked it up, and generator lag is reported; a run whose lag
//     p99 is too large is marked invalid;
//   - workers are capped; the targeter never returns an error (that stops
//     the attack): a missing token is a request marked pool_exhausted that
//     never leaves the process, counted as unsent rather than as the
//     server's failure, and more than 1% unsent makes the run invalid;
//   - results are classified by status and OAuth error, so a race loser's
//     expected invalid_grant is not a failure;
//   - results.bin is vegeta's gob format, readable by `vegeta report` and
//     `vegeta plot`, with bodies (live tokens) stripped, timestamps and
//     latencies re-based on the intended send time, and the harness's
//     reading in the Tokenharness-Result header (see AnnotationHeader).
//
// A verdict is evidence. Each threshold is passed or failed only on a
// figure the run measured, compared exactly with its limit (counts as
// rationals, the limit as the decimal it is written as); a figure the run
// shows does not apply to the target (race_winners against a server that
// does not rotate) is not_applicable, one it could not produce is
// inconclusive, each with its evidence. When that befalls a threshold the
// run was asked for (the profile's headline, or one set in THRESHOLDS) the
// verdict is inconclusive, exit status 3. A limit on a figure the profile
// does not measure is refused before anything is sent (CheckLimits).
//
// Latency percentiles come from log histograms (0.5% resolution, fixed
// memory), so a long soak stays bounded and shards add up exactly.
//
// Merge rebuilds a report from the raw results of several shards
// (SHARD=i/n, see load/shard), exactly as one run's would be computed.
// Shards begin together at START_AT (ParseStartAt); Merge measures how far
// apart their attacks began and refuses shards that did not run together
// (SkewTolerance), whose merged rate would be a fraction of the one asked for.
package load
