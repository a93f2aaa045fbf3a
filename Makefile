.DEFAULT_GOAL := help

PG_DSN ?= postgres://postgres@127.0.0.1:5432/test?sslmode=disable

## help: list the targets
.PHONY: help
help:
	@grep -E '^## ' $(MAKEFILE_LIST) | sed 's/^## /  /'

## demo: run the bundled example pipeline on embedded defaults
.PHONY: demo
demo:
	go run ./cmd/sluice demo --yes

## test: run every test (the Postgres half runs when SLUICE_TEST_POSTGRES_DSN is set)
.PHONY: test
test:
	go test ./...

## test/pg: run every test with the local Postgres switched on
.PHONY: test/pg
test/pg:
	SLUICE_TEST_POSTGRES_DSN='$(PG_DSN)' go test ./...

## test/race: run every test under the race detector
.PHONY: test/race
test/race:
	SLUICE_TEST_POSTGRES_DSN='$(PG_DSN)' go test -race ./...

## bench: run the benchmarks once each
.PHONY: bench
bench:
	SLUICE_TEST_POSTGRES_DSN='$(PG_DSN)' go test -run '^$$' -bench . -benchtime 1x ./...

## lint: gofmt, go vet, staticcheck (the version go.mod pins) and the macOS build
.PHONY: lint
lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (gofmt -l $$(git ls-files '*.go'); exit 1)
	go vet ./...
	go tool staticcheck ./...
	GOOS=darwin GOARCH=arm64 go build ./...

## build: build bin/sluice, stamped with the commit (sluice --version) even where GOFLAGS turns that off
.PHONY: build
build:
	go build -buildvcs=true -o bin/sluice ./cmd/sluice
