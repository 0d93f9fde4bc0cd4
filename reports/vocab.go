package reports

// The one vocabulary of results: every package that judges, renders or
// gates uses these types, so a status, level or policy mode is spelt once.

// Verdict is a run's outcome; it decides the exit status (ExitCode).
type Verdict string

const (
	VerdictPass  Verdict = "pass"
	VerdictFail  Verdict = "fail"
	VerdictError Verdict = "error" // the harness or its configuration failed; nothing was judged
	// VerdictInconclusive: nothing judged failed, but a gating rule or a
	// required check could not be judged (a setup that failed; a rotation
	// race against a server that does not rotate). Never a pass: exit 3.
	VerdictInconclusive Verdict = "inconclusive"
)

// Status is a rule's result in a conformance report, or a threshold's in a
// load report.
type Status string

const (
	StatusPassed  Status = "passed"
	StatusFailed  Status = "failed"
	StatusWarned  Status = "warned"
	StatusWaived  Status = "waived"
	StatusSkipped Status = "skipped"
	// StatusInconclusive: the rule or check ran but could not be judged: a
	// rule's setup failed, a precondition answered 5xx, the spec was cut
	// short; a threshold's run produced nothing to judge it by (no race group
	// had a winner, a series too short for a drift).
	StatusInconclusive Status = "inconclusive"
	// StatusNotApplicable (load thresholds only): the run shows the
	// check's premise does not hold for this target (one winner per
	// rotation race, for a server that does not rotate refresh tokens).
	StatusNotApplicable Status = "not_applicable"
)

// Level is how strongly a rule's source states it.
type Level string

const (
	LevelMUST   Level = "MUST"
	LevelSHOULD Level = "SHOULD"
	LevelMAY    Level = "MAY"
	// LevelDOC is behaviour a vendor document states for its endpoint; it
	// gates like MUST in that vendor's profile.
	LevelDOC Level = "DOC"
)

// Levels lists every level, strongest first.
var Levels = []Level{LevelMUST, LevelSHOULD, LevelMAY, LevelDOC}

// Gates reports whether a violation at this level fails the run.
func (l Level) Gates() bool { return l == LevelMUST || l == LevelDOC }

// PolicyMode is what a profile does with a rule's violation.
type PolicyMode string

const (
	PolicyEnforce PolicyMode = "enforce"
	PolicyWarn    PolicyMode = "warn"
	PolicyWaive   PolicyMode = "waive"
)

// PolicyModes lists every mode.
var PolicyModes = []PolicyMode{PolicyEnforce, PolicyWarn, PolicyWaive}
