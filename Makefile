# Ferry's build entry. `make help` lists the targets.

SHELL := /bin/bash
GO    ?= go
TOOLS := $(CURDIR)/.tools/bin
export PATH := $(TOOLS):$(PATH)

# Pinned code generators, installed into .tools/bin by `make tools`.
PROTOC_GEN_GO_VERSION      := v1.36.12
PROTOC_GEN_CONNECT_VERSION := v1.21.1
BUF_VERSION                := v1.75.0
SQLC_VERSION               := v1.31.1
OPA_VERSION                := v1.22.4

# Rego coverage below this percentage fails `make policy-test`.
POLICY_COVERAGE_FLOOR := 90

.PHONY: help
help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

$(TOOLS)/protoc-gen-go:
	GOBIN=$(TOOLS) $(GO) install google.golang.org/protobuf/cmd/protoc-gen-go@$(PROTOC_GEN_GO_VERSION)
$(TOOLS)/protoc-gen-connect-go:
	GOBIN=$(TOOLS) $(GO) install connectrpc.com/connect/cmd/protoc-gen-connect-go@$(PROTOC_GEN_CONNECT_VERSION)
$(TOOLS)/buf:
	GOBIN=$(TOOLS) $(GO) install github.com/bufbuild/buf/cmd/buf@$(BUF_VERSION)
$(TOOLS)/sqlc:
	GOBIN=$(TOOLS) $(GO) install github.com/sqlc-dev/sqlc/cmd/sqlc@$(SQLC_VERSION)
$(TOOLS)/opa:
	GOBIN=$(TOOLS) $(GO) install github.com/open-policy-agent/opa@$(OPA_VERSION)

.PHONY: tools
tools: $(TOOLS)/protoc-gen-go $(TOOLS)/protoc-gen-connect-go $(TOOLS)/buf $(TOOLS)/sqlc $(TOOLS)/opa ## install the pinned code generators and opa

# The web UI's npm packages, installed exactly as package-lock.json pins them.
UI_DEPS := ui/node_modules/.package-lock.json
$(UI_DEPS): ui/package.json ui/package-lock.json
	cd ui && npm ci
	@touch $@

.PHONY: ui-deps
ui-deps: $(UI_DEPS) ## install the web UI's npm packages

.PHONY: generate
generate: tools $(UI_DEPS) ## regenerate protobuf, Connect, TypeScript and sqlc code
	buf generate
	sqlc generate

.PHONY: ui
ui: $(UI_DEPS) ## build the web UI into the package the ferry binary embeds
	cd ui && npm run build

.PHONY: build
build: ui ## build the web UI, bin/ferry, bin/ferry-agent and the example pipeline
	$(GO) build -o bin/ferry ./controlplane/cmd/ferry
	$(GO) build -o bin/ferry-agent ./agent/cmd/ferry-agent
	$(GO) build -o bin/tzreport ./examples/tzreport

.PHONY: lint
lint: tools $(UI_DEPS) ## gofmt, go vet, buf lint and the TypeScript type check
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	buf lint
	cd ui && npm run typecheck

.PHONY: test
test: tools lint build policy-test ## run every test (needs PostgreSQL and Chromium; see .ci/run)
	cd ui && npm test
	$(GO) test -race -timeout 20m ./...
	cd ui && npm run e2e

.PHONY: policy-test
policy-test: $(TOOLS)/opa ## run the Rego unit tests and enforce the coverage floor
	opa test policy/ -v
	opa test policy/ --coverage --threshold $(POLICY_COVERAGE_FLOOR) >/dev/null

.PHONY: demo
demo: build ## start a control plane and an agent, and run the example pipeline
	./scripts/demo.sh

.PHONY: bench
bench: build ## benchmarks and the load driver; prints one line per figure
	cd ui && npm run --silent size
	./scripts/bench.sh

.PHONY: clean
clean: ## remove build output and demo data
	rm -rf bin .data
	cd controlplane/internal/webui/dist && find . -mindepth 1 ! -name README.md -exec rm -rf {} +
