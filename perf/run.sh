#!/usr/bin/env bash
# Every benchmark in one run, xdpnat beside the kernel's own NAT (as root):
#   bash perf/run.sh                      # full run (about 10 minutes)
#   bash perf/run.sh --rounds 1 --only pps --flows 1,10000
# Writes perf/results/results.json, summary.md and chart.png.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/opt/swift/usr/bin:$PATH"
bash scripts/deps.sh conntrack nftables iptables
python3 -c "import matplotlib" 2>/dev/null || python3 -m pip install -q matplotlib \
  || python3 -m pip install -q --break-system-packages matplotlib
swift build -c release --product xdpnat-bench
swift build -c release --product xdpnatd
swift build -c release --product xdpnat
BIN="$(swift build -c release --show-bin-path)"
status=0
"$BIN/xdpnat-bench" --out perf/results "$@" || status=$?
python3 perf/plot.py perf/results/results.json perf/results/chart.png
cat perf/results/summary.md
exit $status
