#!/bin/sh
# Regenerates the Go code for the USP schemas: the standard protobuf types
# (protoc-gen-go) and their fast marshal, unmarshal, size and clone methods
# (protoc-gen-go-vtproto, *_vtproto.pb.go), then derives from them the plain
# form the usp_noproto build uses instead of the protobuf runtime
# (internal/plaingen: *_plain.go, the checks in usp_msg_check.go, and the
# build constraints). The plugin versions are pinned by go.mod; protoc is
# Debian 12's protobuf-compiler (3.21.12).
set -eu
cd "$(dirname "$0")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/protoc-gen-go" google.golang.org/protobuf/cmd/protoc-gen-go
go build -o "$tmp/protoc-gen-go-vtproto" github.com/planetscale/vtprotobuf/cmd/protoc-gen-go-vtproto
protoc --plugin=protoc-gen-go="$tmp/protoc-gen-go" \
	--plugin=protoc-gen-go-vtproto="$tmp/protoc-gen-go-vtproto" \
	--go_out=. --go_opt=paths=source_relative \
	--go-vtproto_out=. --go-vtproto_opt=paths=source_relative,features=marshal+unmarshal+size+clone \
	usp_msg.proto usp_record.proto
go run ./internal/plaingen -check usp_msg
go run ./internal/plaingen usp_record
