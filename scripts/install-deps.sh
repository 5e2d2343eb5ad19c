#!/usr/bin/env bash
# Installs the Debian 12 packages llmos builds against, when any is missing.
# Runs apt-get only as root (or through sudo when it is available); otherwise it
# lists what is missing and fails, so a build never starts half-equipped.
set -euo pipefail
pkgs=(build-essential cmake pkg-config libboost-dev libboost-program-options-dev nlohmann-json3-dev
      libzmq3-dev cppzmq-dev capnproto libcapnp-dev libjemalloc-dev doctest-dev
      libssl-dev curl ca-certificates jq libicu-dev)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "install-deps: installing ${missing[*]}" >&2
if [ "$(id -u)" -eq 0 ]; then SUDO=""; elif command -v sudo >/dev/null; then SUDO=sudo; else
  echo "install-deps: missing packages (${missing[*]}); run this script as root" >&2; exit 1; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
