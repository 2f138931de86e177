"""Theorem 4's stacks (a layer per component, packed d = 1) through the GPU kernels."""
import json, sys, time
import numpy as np
sys.path.insert(0, ".")
from statetrack.automata import families, holonomy_decomposition
from statetrack.constructions.cascade import ComponentCascade, cascade_construction
from statetrack.constructions.group import is_group_dfa
from statetrack.kernels import run
rows = []
T, B = 100_000, 4
for e in families.catalogue():
    d = e.dfa.minimize()
    if is_group_dfa(d):
        continue
    casc = holonomy_decomposition(d)
    for name, m in (("per-component packed", cascade_construction(ComponentCascade(casc, len(d.alphabet)), d, minimize=False, packed=True)),
                    ("per-level columns", cascade_construction(casc, d, minimize=False))):
        rng = np.random.default_rng(0)
        words = rng.integers(len(d.alphabet), size=(B, T))
        t0 = time.time()
        out = run(m, words, device="cuda", dtype="bfloat16")
        dt = time.time() - t0
        want = d.run(words).states
        bad = int((out.states != want).sum())
        rows.append({"language": e.name, "stack": name, "layers": m.depth, "width": m.width,
                     "V": max(l.value_dim for l in m.layers), "wrong": bad, "symbols": B * T,
                     "seconds": round(dt, 3), "kernels": sorted(set(out.kernels))})
        print(json.dumps(rows[-1]), flush=True)
print("TOTAL wrong", sum(r["wrong"] for r in rows), "rows", len(rows))
