"""Theorem 4's stacks through the kernels: for every catalogue language whose monoid is not a
group, the stack the ``thm4`` check proves (a layer per holonomy component, packed registers,
``d = 1``) and the one ``compile`` gives (a layer per level, registers in columns), run on
random words through :func:`statetrack.kernels.run` in bfloat16 and compared with the DFA at
every position.

Run (device)::

    python3 benchmarks/probes/thm4_stacks_gpu.py --device cuda --length 100000

CPU smoke (interpreter)::

    TRITON_INTERPRET=1 python benchmarks/probes/thm4_stacks_gpu.py --device cpu --length 50
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


def main() -> int:
    from statetrack.automata import families, holonomy_decomposition
    from statetrack.constructions.cascade import ComponentCascade, cascade_construction
    from statetrack.constructions.group import is_group_dfa
    from statetrack.kernels import run

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--length", type=int, default=100_000)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--only", nargs="*", default=None, help="catalogue names")
    args = ap.parse_args()
    rows = []
    for e in families.catalogue():
        d = e.dfa.minimize()
        if is_group_dfa(d) or (args.only and e.name not in args.only):
            continue
        casc = holonomy_decomposition(d)
        stacks = (("per-component packed",
                   cascade_construction(ComponentCascade(casc, len(d.alphabet),
                                                         max_width=d.n_states), d,
                                        minimize=False, packed=True)),
                  ("per-level columns", cascade_construction(casc, d, minimize=False)))
        for name, m in stacks:
            words = np.random.default_rng(0).integers(len(d.alphabet),
                                                      size=(args.batch, args.length))
            t0 = time.perf_counter()
            out = run(m, words, device=args.device, dtype="bfloat16")
            seconds = time.perf_counter() - t0
            wrong = int((out.states != d.run(words).states).sum())
            rows.append({"language": e.name, "stack": name, "layers": m.depth,
                         "width": m.width, "V": max(x.value_dim for x in m.layers),
                         "wrong": wrong, "symbols": args.batch * args.length,
                         "seconds": round(seconds, 3), "kernels": sorted(set(out.kernels))})
            print(json.dumps(rows[-1]), flush=True)
    total = sum(r["wrong"] for r in rows)
    print(f"TOTAL wrong {total} over {len(rows)} stacks")
    return 1 if total else 0


if __name__ == "__main__":
    raise SystemExit(main())
