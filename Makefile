# tokenharness — every target is a thin layer over the Go packages; variables
# pass through to the environment the libraries read (see README).
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

GO      ?= go
# No defaults for run variables here: an exported default would beat the
# CONFIG file. internal/plan applies the defaults after the file.
OUT_DIR := $(or $(REPORT_DIR),reports/out)
ADDR    ?= 127.0.0.1:9000
# A count of inputs, not a duration: with a duration, Go 1.26's fuzz
# coordinator can report its own deadline ("context deadline exceeded") as
# a failure when a loaded machine stalls its workers at the end, with no
# failing input. 60,000 inputs take 2-8 s per target here.
FUZZTIME ?= 60000x
RACE_RUNS ?= 100
BIN     := bin/tokenharness

# Run configuration read by internal/target (and the load side).
export LABELS PROCS SUITE_TIMEOUT TARGET PROFILE CONFIG CLIENT_ID CLIENT_SECRET CLIENT_AUTH CLIENT2_ID CLIENT2_SECRET \
       RESTRICTED_CLIENT_ID RESTRICTED_CLIENT_SECRET GRANTS REDIRECT_URI SCOPE HEADERS REPORT_DIR CODE_CMD AUTHORIZE_URL TIMEOUT CA_FILE INSECURE \
       JWT_KEY_FILE JWT_ALG JWT_KID JWT_AUDIENCE DPOP DPOP_KEY_FILE DPOP_ALG DPOP_JKT \
       DEVICE_AUTHORIZATION_URL DEVICE_APPROVE_CMD DEVICE_DENY_CMD DEVICE_VERIFY_URL \
       RACE_ATTEMPTS RACE_BUDGET RACE_WINDOW QUIRKS MOCK LOAD_PROFILE RATE DURATION WORKERS CLIENTS SHARD BASELINE CURRENT ALLOW_REMOTE \
       EVERY START_RATE GROUP_SIZE RACE_POLICY SPIKE_RATE SPIKE_AT SPIKE_FOR CODE_EVERY THRESHOLDS MAX_LAG \
       P50_PCT P99_PCT THROUGHPUT_PCT SUCCESS_RATIO_PTS ERROR_RATE_PTS START_AT METRICS_ADDR COMPARE_HTML SLO_P99 SLO_ERRORS \
       POOL_FILE POOL_MAX_AGE
# The m2m load profile's own switches (load/m2m.go, load/signfeed.go).
export M2M_CLIENTS_FILE M2M_SIGN_LEAD M2M_SIGN_WORKERS
# testcontainers-go offline: no reaper (it would be pulled), no credential helpers.
export TESTCONTAINERS_RYUK_DISABLED := true
export DOCKER_AUTH_CONFIG ?= {}

.PHONY: interop interop-race interop-capacity merge help conformance conformance-all test lint unit selfcheck suite e2e fuzz container-test deps load bench compare mock image report clean $(BIN)

help: ## list the targets and what they do
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  %-16s %s\n", $$1, $$2}'
	@echo; echo "variables: TARGET PROFILE CONFIG CLIENT_ID CLIENT_SECRET CLIENT_AUTH CLIENT2_ID CLIENT2_SECRET"
	@echo "           RESTRICTED_CLIENT_ID RESTRICTED_CLIENT_SECRET GRANTS JWT_KEY_FILE JWT_ALG JWT_KID JWT_AUDIENCE"
	@echo "           DPOP DPOP_KEY_FILE DPOP_ALG DPOP_JKT DEVICE_AUTHORIZATION_URL DEVICE_APPROVE_CMD DEVICE_DENY_CMD DEVICE_VERIFY_URL"
	@echo "           REDIRECT_URI SCOPE HEADERS REPORT_DIR CODE_CMD AUTHORIZE_URL TIMEOUT CA_FILE INSECURE"
	@echo "           RACE_ATTEMPTS RACE_BUDGET QUIRKS MOCK LABELS PROCS  |  load: LOAD_PROFILE RATE DURATION WORKERS CLIENTS SHARD POOL_FILE"
	@echo "           compare: BASELINE CURRENT  |  mock: ADDR PROFILE QUIRKS RACE_WINDOW    (README.md explains each)"

$(BIN):
	@$(GO) build -o $(BIN) ./cmd/tokenharness

conformance: $(BIN) ## check TARGET (default: the bundled mock) against PROFILE; non-zero if a MUST rule fails or on config/harness errors
	@$(BIN) conformance

# Target files of the bundled mock's other capabilities, each run by conformance-all.
MOCK_CAPABILITIES := mock-oauth21-public mock-rfc6749-m2m mock-rfc6749-jwt mock-oauth21-jwt mock-rfc6749-dpop \
                     mock-rfc6749-device mock-oauth21-device

conformance-all: ## every profile against the bundled mock, then each of its capabilities (public client, client_credentials only, JWT client auth, DPoP, the device grant): REPORT_DIR/<name>
	@for p in rfc6749 commoninja dressipi oauth21; do \
	  $(MAKE) --no-print-directory conformance PROFILE=$$p REPORT_DIR=$(OUT_DIR)/$$p || exit $$?; done
	@for f in $(MOCK_CAPABILITIES); do echo "== $$f"; \
	  $(MAKE) --no-print-directory conformance CONFIG=fixtures/targets/$$f.yaml REPORT_DIR=$(OUT_DIR)/$$f || exit $$?; done

test: deps lint unit selfcheck suite e2e fuzz container-test ## the project's own tests (what CI runs)

lint: ## gofmt and go vet
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed: $$out"; exit 1; fi
	$(GO) vet ./...

unit: ## unit tests of every package, with the race detector
	$(GO) test -race -count=1 -timeout 20m $$($(GO) list ./... | grep -v '/specs')

selfcheck: ## the suite against the mock: clean passes, every rule killed by its switch (mutation score), variations green
	cd specs/selfcheck && $(GO) test -count=1 -timeout 10m

suite: ## the Ginkgo suite (go tool ginkgo ./specs) for every profile against the in-process mock
	@mkdir -p $(OUT_DIR); for p in rfc6749 commoninja dressipi oauth21; do \
	  echo "ginkgo suite, profile $$p"; \
	  MOCK=in-process PROFILE=$$p REPORT_DIR=$(OUT_DIR)/suite/$$p $(GO) tool ginkgo --procs=4 --silence-skips ./specs >$(OUT_DIR)/suite-$$p.log 2>&1 \
	    || { tail -40 $(OUT_DIR)/suite-$$p.log; exit 1; }; \
	  grep -q '"verdict": "pass"' $(OUT_DIR)/suite/$$p/conformance/report.json || { echo "suite $$p: verdict is not pass"; exit 1; }; done

e2e: ## make conformance as a user runs it: mock started by hand with CODE_CMD, faults, bad config, hostile targets
	@echo "e2e: the gate as a user runs it (about two minutes); one line per finished test"
	$(GO) test -count=1 -timeout 20m -v ./specs/e2e 2>&1 | grep --line-buffered -E '^(--- |ok|FAIL|panic)|_test\.go:'

fuzz: ## a short fuzz pass of the mock's token handler and the suite's response parsing
	$(GO) test -run '^$$' -fuzz '^FuzzTokenHandler$$' -fuzztime $(FUZZTIME) ./mockserver
	$(GO) test -run '^$$' -fuzz '^FuzzResponseObject$$' -fuzztime $(FUZZTIME) ./internal/oauth
	$(GO) test -run '^$$' -fuzz '^FuzzChecks$$' -fuzztime $(FUZZTIME) ./internal/rules

container-test: $(BIN) ## the gate for every profile against the mock in a container (skips outside CI when Docker is not there)
	@if ! docker info >/dev/null 2>&1; then \
	  if [ "$${CI:-}" = true ]; then echo "container-test: CI=true but Docker is not available"; exit 1; fi; \
	  echo "container-test: skipped: Docker is not available (start it to run the mock in a container)"; exit 0; fi; \
	for p in rfc6749 commoninja dressipi oauth21; do \
	  MOCK=container $(MAKE) --no-print-directory conformance PROFILE=$$p REPORT_DIR=$(OUT_DIR)/test/$$p || exit $$?; done; \
	left=$$(docker ps -aq --filter label=tokenharness=mockserver); if [ -n "$$left" ]; then echo "containers left behind: $$left"; exit 1; fi

interop: ## the rules against fosite, go-oauth2 and zitadel in-process (module interop/); a verdict that differs from interop/expected.tsv fails with a diff (UPDATE=1 rewrites statuses, keeps justifications)
	cd interop && $(GO) test -count=1 -timeout 10m -run '^Test(Interop|Table|Independent|ZitadelLogin)' . -out $(abspath $(OUT_DIR))/interop $(if $(UPDATE),-update)
	@cat $(OUT_DIR)/interop/summary.txt; echo "verdicts and evidence: $(OUT_DIR)/interop/<server>-<profile>.txt"

interop-capacity: ## measure the capacity profile against the mock and each interop server in one sitting (a table of ratios to the mock)
	cd interop && $(GO) test -count=1 -timeout 30m -run '^TestCapacityTable$$' . -capacity

interop-race: ## repeat the race rules RACE_RUNS times (default 100) against each interop server (SERVERS, RACE_RULES: comma-separated subsets) and print the catch ratio
	cd interop && $(GO) test -v -count=1 -timeout 60m -run '^TestRaceCatchRatio$$' . -race-runs $(RACE_RUNS) -servers '$(SERVERS)' -race-rules '$(RACE_RULES)' \
	  | grep -vE '^(=== (RUN|PAUSE|CONT)|\s*--- PASS|PASS$$)'

deps: ## under CI, install what the tests need (chromium for the HTML report checks); elsewhere only say what is missing
	@command -v chromium >/dev/null || command -v chromium-browser >/dev/null || { \
	  if [ "$${CI:-}" != true ]; then echo "chromium not found: the browser checks of the HTML reports will skip (install it: apt-get install -y chromium, or run with CI=true)"; exit 0; fi; \
	  echo "installing chromium (headless browser checks of the HTML reports)"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }

load: $(BIN) ## run LOAD_PROFILE (herd|ramp|rotation-race|spike|soak|mixed|capacity|m2m) against TARGET (default: the bundled mock)
	@$(BIN) load

bench: ## Go benchmarks: token handler, mock vs bare net/http ratio, targeter vs static vegeta ratio, m2m generator with ES256 assertions + DPoP proofs vs client secrets, race detection, the gate's whole-process time
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 2s ./mockserver ./load/... ./internal/probe
	$(GO) test -run '^$$' -bench BenchmarkConformanceProcess -benchtime 10x ./internal/gate
	$(GO) test -run '^$$' -bench RaceDetection -benchtime 100x -timeout 40m ./specs/selfcheck

merge: $(BIN) ## merge shard result directories: make merge OUT=dir SHARDS="dir0 dir1"
	@$(BIN) merge $(if $(filter 1,$(ALLOW_SKEW)),-allow-skew) -out $(OUT) $(SHARDS)

compare: $(BIN) ## compare CURRENT against BASELINE report.json; exit 1 on a regression
	@$(BIN) compare

report: $(BIN) ## re-render HTML reports and the index page in REPORT_DIR
	@$(BIN) report -dir $(OUT_DIR)

mock: ## serve the mock token server in the foreground on ADDR with PROFILE
	$(GO) run ./cmd/mockserver -addr $(ADDR) -profile $(or $(PROFILE),rfc6749) -quirks-from-header $(if $(QUIRKS),-quirks $(QUIRKS))

image: $(BIN) ## build the mock server image and the tokenharness image (FROM scratch, non-root, nothing pulled)
	@$(BIN) image

clean: ## remove build output, reports and the cached mock images
	rm -rf bin $(OUT_DIR)
	-@docker images -q tokenharness.local/mockserver | sort -u | xargs -r docker rmi -f >/dev/null 2>&1
