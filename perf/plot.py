"""Draws perf/results/chart.png from results.json: forwarded Mpps per case and flow count."""
import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

src, out = sys.argv[1], sys.argv[2]
r = json.load(open(src))
cases = [c for c in ["kernel-forward", "nft-snat", "iptables-masquerade", "xdp-stateless", "xdpnat"] if c in r["pps"]]
flows = sorted({int(f) for c in cases for f in r["pps"][c]})
fig, ax = plt.subplots(figsize=(9, 4.8))
width = 0.8 / max(1, len(cases))
for i, c in enumerate(cases):
    med = [r["pps"][c].get(str(f), {}).get("median", 0) / 1e6 for f in flows]
    lo = [m - r["pps"][c].get(str(f), {}).get("min", 0) / 1e6 for m, f in zip(med, flows)]
    hi = [r["pps"][c].get(str(f), {}).get("max", 0) / 1e6 - m for m, f in zip(med, flows)]
    xs = [j + (i - (len(cases) - 1) / 2) * width for j in range(len(flows))]
    ax.bar(xs, med, width, yerr=[lo, hi], capsize=2, label=c)
ax.set_xticks(range(len(flows)))
ax.set_xticklabels([f"{f:,} flows" for f in flows])
ax.set_ylabel("forwarded Mpps (64-byte UDP, one core)")
m = r.get("machine", {})
ax.set_title(f"xdpnat vs kernel NAT — {m.get('cpu', '?')}, kernel {m.get('kernel', '?')}")
ax.legend(fontsize=8)
ax.grid(axis="y", alpha=0.3)
fig.tight_layout()
fig.savefig(out, dpi=110)
print(f"wrote {out}")
