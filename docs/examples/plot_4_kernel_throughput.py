"""
Kernel throughput at construction shapes
========================================

The committed benchmark ``benchmarks/results/kernels_construction.json`` (an H100; K = V = 16,
bfloat16, forward only) timed the tabled construction path, the general fused recurrent
kernel and flash-linear-attention 0.6.0's two delta-rule kernels on the same inputs. This
example reads the JSON (no GPU needed) and plots symbols per second of the fastest variant
of each implementation (log scale).
"""

import json
import pathlib

import matplotlib.pyplot as plt
import numpy as np

import statetrack

root = pathlib.Path(statetrack.__file__).resolve().parents[1]
bench = json.loads((root / "benchmarks/results/kernels_construction.json").read_text())
print(bench["meta"]["device"], "| fla", bench["meta"]["fla"], "| commit",
      bench["meta"]["commit"][:7])

# %%
# The fastest variant of each implementation, per shape:
shapes = sorted({(r["B"], r["T"]) for r in bench["rows"]})
best: dict[str, dict[tuple[int, int], float]] = {}
for r in bench["rows"]:
    impl = r["impl"]
    key = (r["B"], r["T"])
    best.setdefault(impl, {})
    best[impl][key] = min(best[impl].get(key, np.inf), r["ms"])

fig, ax = plt.subplots(figsize=(10, 4.2))
width = 0.8 / len(best)
for i, (impl, times) in enumerate(sorted(best.items())):
    x = np.arange(len(shapes)) + i * width
    rate = [shape[0] * shape[1] / (times[shape] * 1e-3) if shape in times else 0.0
            for shape in shapes]
    ax.bar(x, rate, width, label=impl)
ax.set_xticks(np.arange(len(shapes)) + 0.4 - width / 2)
ax.set_xticklabels([f"B={b}, T={t}" for b, t in shapes])
ax.set_yscale("log")
ax.set_ylabel("symbols / s")
ax.set_title(f"Forward throughput, K = V = 16, bfloat16 ({bench['meta']['device']})")
ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
fig.tight_layout()

# %%
# The summary rows: speed-up of the tabled path over fla's faster kernel.
for s in bench["summary"]:
    print(f"B={s['B']:5d} T={s['T']:6d}: tabled {s['speedup_tabled_auto']:.1f}x, "
          f"general kernel {s['speedup_general_auto']:.2f}x vs {s['fla_best']}")
