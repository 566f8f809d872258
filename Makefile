# FireFlow developer targets. `make help` lists them.
#
# Developer tools (golangci-lint, vegeta) are pinned in tools/go.mod and run
# with `go tool -modfile=tools/go.mod <tool>`; nothing is installed globally.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

GO      ?= go
TOOLS   := $(GO) tool -modfile=tools/go.mod
BIN_DIR := bin
BINARY  := $(BIN_DIR)/fireflow

VERSION ?= $(shell cat VERSION 2>/dev/null || echo 0.0.0-dev)
COMMIT  ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
DATE    ?= $(shell date -u +%Y-%m-%dT%H:%M:%SZ)
LDFLAGS := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT) -X main.date=$(DATE)

# Extra arguments for `make run`, e.g. make run ARGS="--addr :9090".
ARGS ?=
# Packages for `make test`, e.g. make test PKGS=./internal/engine/...
PKGS ?= ./...

.PHONY: help build run local_run jwt test lint vet golangci-lint fmt fmt-check ci bench dashboards tools clean

help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  %-14s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

build: ## Build ./bin/fireflow (static, trimmed, version stamped)
	@mkdir -p $(BIN_DIR)
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BINARY) ./cmd/fireflow
	@echo "built $(BINARY) $(VERSION) ($(COMMIT))"

run: ## Run the server with development defaults (:8080, sqlite:./data/fireflow.db)
	FIREFLOW_ENV=$${FIREFLOW_ENV:-development} $(GO) run -ldflags "-X main.version=$(VERSION)-dev -X main.commit=$(COMMIT)" ./cmd/fireflow serve $(ARGS)

local_run: run ## Alias of run

jwt: ## Print an admin token for the local dev server (ROLE=editor SUB=alice TTL=1h to change)
	@$(GO) run ./cmd/fireflow token --sub $${SUB:-dev-admin} --role $${ROLE:-admin} --ttl $${TTL:-24h}

test: ## Run all tests with the race detector and print a summary
	CGO_ENABLED=1 PKGS="$(PKGS)" scripts/test.sh

vet: ## go vet
	$(GO) vet ./...

golangci-lint: ## golangci-lint (pinned in tools/go.mod, config in .golangci.yml)
	$(TOOLS) golangci-lint run ./...

lint: vet golangci-lint ## go vet + golangci-lint

fmt: ## Format all Go files in place (gofmt -s)
	@files=$$(scripts/gofiles.sh); [ -z "$$files" ] || gofmt -s -l -w $$files

fmt-check: ## Fail if a Go file is not gofmt-formatted
	@files=$$(scripts/gofiles.sh); out=$$([ -z "$$files" ] || gofmt -s -l $$files); \
	if [ -n "$$out" ]; then echo "not gofmt-formatted (run make fmt):"; echo "$$out"; exit 1; fi; \
	echo "gofmt: ok"

ci: lint test ## What CI runs: lint then test

bench: ## API load benchmark against a local server (scripts/bench.sh)
	scripts/bench.sh

dashboards: ## Regenerate the Grafana dashboards (deploy/grafana/gen) into deploy/grafana and the Helm chart
	$(GO) run ./deploy/grafana/gen

tools: ## Download and build the pinned developer tools
	$(TOOLS) golangci-lint version
	$(TOOLS) vegeta -version

clean: ## Remove build outputs
	rm -rf $(BIN_DIR) coverage.out coverage.html
