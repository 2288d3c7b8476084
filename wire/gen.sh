#!/bin/sh
# Regenerates the Go code for the USP schemas. The plugin version is pinned
# by go.mod; protoc is Debian 12's protobuf-compiler (3.21.12).
set -eu
cd "$(dirname "$0")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/protoc-gen-go" google.golang.org/protobuf/cmd/protoc-gen-go
protoc --plugin=protoc-gen-go="$tmp/protoc-gen-go" \
	--go_out=. --go_opt=paths=source_relative \
	usp_msg.proto usp_record.proto
