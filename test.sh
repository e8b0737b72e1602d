#!/usr/bin/env bash
# Runs every glassbox test: formatting and vet, the unit tests, and the root integration tests
# against the real kernel. Installs what the tests need from Debian when they are missing.
#
# As root, a test that cannot run (no root, a missing tool, a missing kernel feature) fails
# instead of skipping (GLASSBOX_NO_SKIP=1): a green run means every test really ran.
set -euo pipefail
cd "$(dirname "$0")"

# What the tests use: busybox-static for fixture images, runc/podman/skopeo/umoci as peers the
# tests compare against, tmux for end-to-end TUI tests, nftables/iptables/iproute2 for networking,
# libseccomp for the seccomp filter, util-linux and procps for the kernel views tests compare to.
packages=(busybox-static runc crun podman skopeo umoci tmux nftables iptables iproute2
	libseccomp-dev pkg-config uidmap util-linux procps psmisc)

missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "test.sh: missing packages (run as root to install them): ${missing[*]}" >&2
		exit 1
	fi
	echo "test.sh: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if [ "$(id -u)" -eq 0 ]; then
	export GLASSBOX_NO_SKIP="${GLASSBOX_NO_SKIP:-1}"
fi

unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
	echo "test.sh: gofmt would change: $unformatted" >&2
	exit 1
fi

go vet ./...

# Integration tests run the real binary: build it once for every package.
mkdir -p bin
go build -o bin/glassbox ./cmd/glassbox
export GLASSBOX_BIN="$PWD/bin/glassbox"

go test -count=1 -timeout 12m "$@" ./...
