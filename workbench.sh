#!/usr/bin/env bash
# Builds glassbox and opens the workbench. Installs, as root, what glassbox needs at build
# and run time from Debian when it is missing.
set -euo pipefail
cd "$(dirname "$0")"
packages=(busybox-static libseccomp-dev pkg-config)
missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "workbench.sh: run as root (glassbox runs containers): sudo $0" >&2
		exit 1
	fi
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq "${missing[@]}" >/dev/null
fi
mkdir -p bin
go build -o bin/glassbox ./cmd/glassbox
exec bin/glassbox "$@"
