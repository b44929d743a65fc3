# filesmount — see README.md.
GO       ?= go
PKGS     := ./...
# Mount tests need root (or fusermount3) and /dev/fuse; they never skip when CI=true.
TESTFLAGS ?= -race -count=1 -timeout 12m

# Debian packages the tests and the demo use. Installed only when missing,
# and only when running as root (otherwise a hint is printed).
DEB_PKGS := fuse3:fusermount3 rsync:rsync rdiff:rdiff nifti-bin:nifti_tool python3-nibabel:/usr/lib/python3/dist-packages/nibabel

.PHONY: all build test test-short fuzz-short soak demo deps vet fmt-check check clean

all: build

-include Makefile.bench

# A few seconds of coverage-guided fuzzing per target on top of the
# committed corpora (which every `go test` replays).
FUZZ_TARGETS := fs:FuzzEscapeName fs:FuzzUniqueNames fs:FuzzRecoveryPath \
	remote/cbrain:FuzzCheckLegal remote/cbrain:FuzzDecodeJSON remote/cbrain:FuzzDecodeErrorBody \
	remote/vrchat:FuzzDecodeFile remote/vrchat:FuzzDecodeError
FUZZTIME ?= 3s

build:
	$(GO) build -o bin/filesmount ./cmd/filesmount

deps:
	@missing=""; \
	for pair in $(DEB_PKGS); do \
	  pkg=$${pair%%:*}; probe=$${pair#*:}; \
	  if ! command -v $$probe >/dev/null 2>&1 && [ ! -e $$probe ]; then missing="$$missing $$pkg"; fi; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "make deps: installing$$missing"; \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $$missing >/dev/null 2>&1 || \
	    { apt-get update >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $$missing >/dev/null; }; \
	  else \
	    echo "make deps: missing$$missing; install them with: sudo apt-get install$$missing"; \
	  fi; \
	fi

test: deps vet
	$(GO) test $(TESTFLAGS) $(PKGS)
	# CBRAIN 7.0.0 portals (remote/cbrain/cbraintest/release.go): the client
	# tests and the CBRAIN mount tests again, against the emulator playing 7.0.0.
	FILESMOUNT_CBRAIN_RELEASE=7.0.0 $(GO) test -count=1 -timeout 5m ./remote/cbrain/
	FILESMOUNT_CBRAIN_RELEASE=7.0.0 $(GO) test -count=1 -timeout 5m -run '^TestCBRAIN' ./e2e/
	# Memory-budget tests are built without -race (it multiplies memory use).
	$(GO) test -count=1 -timeout 5m -run 'Big' ./e2e/
	$(MAKE) --no-print-directory fuzz-short

fuzz-short:
	@for t in $(FUZZ_TARGETS); do \
	  pkg=$${t%%:*}; name=$${t#*:}; \
	  echo "fuzz $$pkg $$name ($(FUZZTIME))"; \
	  $(GO) test -run='^$$' -fuzz="^$$name\$$" -fuzztime=$(FUZZTIME) ./$$pkg >/dev/null || exit 1; \
	done

# The randomized soak (faults firing while readers and writers run on both
# remotes), the random-SIGKILL test and the model-based soak (random
# operation sequences checked against the models under faults), for
# longer: make soak SOAK=10m
SOAK ?= 3m
CRASH_ROUNDS ?= 30
soak: deps
	FILESMOUNT_SOAK_DURATION=$(SOAK) $(GO) test -count=1 -timeout 0 -run '^TestSoak$$' -v ./e2e/
	FILESMOUNT_CRASH_ROUNDS=$(CRASH_ROUNDS) $(GO) test -count=1 -timeout 0 -run 'RandomKills' -v ./cmd/filesmount/
	FILESMOUNT_MODEL_DURATION=$(SOAK) $(GO) test -count=1 -timeout 0 -run '^TestModelSoak$$' -v ./e2e/

# Unit tests only, no mounts.
test-short:
	$(GO) test -short -count=1 $(PKGS)

demo: deps build
	./bin/filesmount demo

# vet for macOS too: code that builds only on Linux (syscall.Stat_t
# fields, for one) would otherwise break the macOS build unseen.
vet:
	$(GO) vet $(PKGS)
	CGO_ENABLED=0 GOOS=darwin $(GO) vet $(PKGS)

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

check: fmt-check vet test

clean:
	rm -rf bin
