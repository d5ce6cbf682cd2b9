#!/usr/bin/env bash
# Installs what xdpnat needs on Debian 12 (as root), skipping what is present.
set -euo pipefail
pkgs=(libbpf-dev libxdp-dev libelf-dev zlib1g-dev pkg-config bpftool iproute2 ethtool
      iputils-ping python3 python3-pip nftables iptables curl openssl)
pkgs+=("$@")
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
command -v swift >/dev/null || { echo "swift toolchain not found in PATH (expected /opt/swift/usr/bin)"; exit 1; }
# bpffs for pinned maps
mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf
