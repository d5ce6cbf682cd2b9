#!/usr/bin/env bash
# Runs the whole xdpnat test suite (unit, BPF, real traffic in network namespaces).
# Needs root for the privileged tests; with XDPNAT_REQUIRE_PRIVILEGED=1 they fail
# instead of skipping when privileges are missing.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/opt/swift/usr/bin:$PATH"
bash scripts/deps.sh nginx-light iperf3
python3 -m pip install -q -r Tests/requirements.txt 2>/dev/null \
  || python3 -m pip install -q --break-system-packages -r Tests/requirements.txt
swift build --build-tests
swift test --skip-build "$@"
python3 -m pytest -q Tests/crd Tests/deploy
