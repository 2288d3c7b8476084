# shellcheck shell=bash
# The machine set-up the CI stages share (.ci/nightly sources it): the
# Debian packages the tests need on a fresh Debian 12 machine with Go,
# GOPATH/bin on PATH, tests that need an external program fail instead of
# skipping, and the module cache filled. Run from the repository root.

export DEBIAN_FRONTEND=noninteractive
if command -v apt-get >/dev/null; then
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends protobuf-compiler mosquitto mosquitto-clients rabbitmq-server postgresql iproute2 runc crun busybox-static \
		qemu-user-static shellcheck chromium >/dev/null
	# usp-js interop (test/interop/uspjs): Debian's nodejs and npm unless a Node.js is there already.
	command -v node >/dev/null || apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
fi
PATH="$(go env GOPATH)/bin:$PATH"
export PATH
export USP_REQUIRE_EXTERNAL=1
export GOFLAGS="${GOFLAGS:-} -buildvcs=false"

go mod download
