# FireFlow developer targets. `make help` lists them.
#
# Developer tools (golangci-lint, vegeta, helm, kubeconform) are pinned in tools/go.mod and run
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

# Container image (make image, make image-push) and the Compose stack.
IMAGE   ?= ghcr.io/fireflow/fireflow
COMPOSE := docker compose -f deploy/compose/docker-compose.yml
# make release-minor DRY_RUN=1 shows the release without making it.
DRY_RUN ?=

.PHONY: help build run local_run jwt test lint vet golangci-lint fmt fmt-check ci ci-deps bench dashboards tools clean lint-api check-api apiclient \
	test-deploy image image-push up down monitor monitor-urls check-release-tag release-patch release-minor release-major

help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+( [a-zA-Z_-]+)*:.*## / {printf "  %-14s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

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

lint-api: ## Lint the served OpenAPI document with Spectral (spectral:oas + OWASP; npm packages in tools/api)
	scripts/check-api.sh lint

check-api: ## lint-api, then the README's API tour in TypeScript (openapi-typescript, openapi-fetch, tsc --strict) against a real server
	scripts/check-api.sh all

apiclient: ## Regenerate the Go client internal/apiclient from the served OpenAPI document (oapi-codegen)
	scripts/gen-apiclient.sh

ci-deps: ## Install the system packages the tests need and the machine lacks (apt-get; Chromium, PostgreSQL, Prometheus, Node.js), and tools/api's npm packages
	scripts/ci-deps.sh

test-deploy: ## Check the chart, Compose stack, Dockerfile, releases and the image's binary (deploy/test)
	scripts/test-deploy.sh

image: ## Build the container image $(IMAGE):$(VERSION) (needs a Docker engine)
	docker build -f deploy/Dockerfile --build-arg VERSION=$(VERSION) --build-arg COMMIT=$(COMMIT) \
		--build-arg DATE=$(DATE) -t $(IMAGE):$(VERSION) .

image-push: image ## Push $(IMAGE):$(VERSION) (and :latest for a release tag)
	docker push $(IMAGE):$(VERSION)
	docker tag $(IMAGE):$(VERSION) $(IMAGE):latest && docker push $(IMAGE):latest

deploy/compose/.env:
	@umask 077; rand() { head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n'; }; \
	{ echo "POSTGRES_PASSWORD=$$(rand)"; echo "FIREFLOW_JWT_SECRET=$$(rand)$$(rand)"; \
	  echo "GRAFANA_ADMIN_PASSWORD=$$(rand)"; } > $@
	@echo "wrote $@ (random secrets; Grafana's admin password is in it)"

up: deploy/compose/.env ## Build and start the Compose stack, and wait until it is healthy
	FIREFLOW_VERSION=$(VERSION) FIREFLOW_COMMIT=$(COMMIT) FIREFLOW_DATE=$(DATE) \
		$(COMPOSE) up -d --build --wait
	@$(MAKE) --no-print-directory monitor-urls

monitor-urls:
	@echo "FireFlow    http://localhost:8080/docs/swagger-ui  (token: $(COMPOSE) exec fireflow /fireflow token --sub admin --role admin)"
	@echo "Prometheus  http://localhost:9090/targets"
	@echo "Grafana     http://localhost:3000  (anonymous viewer; admin password in deploy/compose/.env)"
	@echo "Jaeger      http://localhost:16686"

monitor: ## Show the stack's state and URLs, then follow FireFlow's logs (Ctrl-C stops following)
	$(COMPOSE) ps
	@$(MAKE) --no-print-directory monitor-urls
	$(COMPOSE) logs -f --tail 50 fireflow

down: ## Stop the Compose stack (V=1 also deletes its volumes)
	$(COMPOSE) down $(if $(V),--volumes)

check-release-tag: ## Fail unless TAG (e.g. v1.2.3) matches VERSION; CI runs it before pushing an image
	@test "$(TAG)" = "v$(VERSION)" || { echo "tag $(TAG) does not match VERSION $(VERSION)"; exit 1; }

release-patch release-minor release-major: ## Bump VERSION, update CHANGELOG.md, commit and tag vX.Y.Z (DRY_RUN=1 to preview)
	DRY_RUN=$(DRY_RUN) scripts/release.sh $(@:release-%=%)

bench: ## API load benchmark (scripts/bench.sh), then SQLite vs PostgreSQL (scripts/bench-stores.sh)
	scripts/bench.sh
	scripts/bench-stores.sh

dashboards: ## Regenerate the Grafana dashboards (deploy/grafana/gen) into deploy/grafana and the Helm chart
	$(GO) run ./deploy/grafana/gen

tools: ## Download and build the pinned developer tools
	$(TOOLS) golangci-lint version
	$(TOOLS) vegeta -version
	$(TOOLS) helm version
	$(TOOLS) kubeconform -v

clean: ## Remove build outputs
	rm -rf $(BIN_DIR) coverage.out coverage.html
