"""Theorem 4's stacks for the catalogue: size against |Q| and holonomy height, and time.

For every language of the catalogue whose transition monoid is not a group (or every
language with ``--all``): minimal DFA size ``|Q|``, the holonomy decomposition (levels,
height, components), the compiled stack (layers, width and ``n_h`` per layer), the exact
proof (reachable joint states), and the seconds each took; beside them the paper's bound
(Theorem 4 via Krohn–Rhodes: at most ``2^|Q|`` layers of width at most ``|Q|``, ``d = 1``)
and the goal ``layers <= 2 x height``. The value width: ``V`` of the default stack (the
registers in columns) and, for the packed stack (``packed=True``, the paper's ``d = 1``),
its largest code, whether it is proved exact in bfloat16 and its exact proof.

Run::

    python benchmarks/cascades.py --out benchmarks/results/cascades.json \
        --md benchmarks/cascades.md
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np


def row(spec: str) -> dict:
    from statetrack.automata import families, holonomy_decomposition
    from statetrack.constructions.cascade import cascade_construction
    from statetrack.theory.proof import verify

    dfa = families.get(spec).minimize()  # the cascade covers the minimal DFA
    t0 = time.perf_counter()
    casc = holonomy_decomposition(dfa)
    t1 = time.perf_counter()
    model = cascade_construction(casc, dfa)
    t2 = time.perf_counter()
    cert = verify(model, dfa)
    t3 = time.perf_counter()
    packed = cascade_construction(casc, dfa, packed=True)
    pcert = verify(packed, dfa)
    return {
        "language": spec, "states": dfa.n_states, "letters": len(dfa.alphabet),
        "height": casc.height, "levels": len(casc.levels),
        "cascade": str(casc).replace("\n", "; "),
        "layers": model.depth, "widths": [layer.width for layer in model.layers],
        "n_h": [layer.n_h for layer in model.layers],
        "tokens": [layer.n_tokens for layer in model.layers],
        "proved": bool(cert.ok), "reachable": int(cert.reachable),
        "value_dim": max(layer.value_dim for layer in model.layers),
        "packed_value_dim": max(layer.value_dim for layer in packed.layers),
        "packed_max_code": max(int(c[0]) for layer in packed.layers
                               for c in layer.readout.codes),
        "packed_bf16_exact": bool(packed.float_exactness(("bfloat16",)).proved("bfloat16")),
        "packed_proved": bool(pcert.ok),
        "goal_layers": 2 * casc.height, "paper_layers": f"2^{dfa.n_states}",
        "paper_width": dfa.n_states,
        "seconds_decompose": t1 - t0, "seconds_compile": t2 - t1, "seconds_verify": t3 - t2,
    }


def main() -> None:
    from _machine import check_outputs, cpu_name, git_commit

    from statetrack.automata import classify, families

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--all", action="store_true", help="group languages too")
    ap.add_argument("--out", default="benchmarks/results/cascades.json")
    ap.add_argument("--md", default="benchmarks/cascades.md")
    args = ap.parse_args()
    check_outputs(ap, {"--out": args.out, "--md": args.md})     # before the catalogue's runs
    specs = [e.name for e in families.catalogue()
             if args.all or classify(e.dfa).kind != "group"]
    rows = []
    for spec in specs:
        r = row(spec)
        print(f"{spec:24s} |Q|={r['states']:3d} height={r['height']} layers={r['layers']} "
              f"widths={r['widths']} proved={r['proved']} "
              f"({r['seconds_decompose']:.2f}+{r['seconds_compile']:.2f}+"
              f"{r['seconds_verify']:.2f} s)", flush=True)
        rows.append(r)
    commit = git_commit()
    meta = {"command": "python benchmarks/cascades.py" + (" --all" if args.all else ""),
            "machine": f"{cpu_name()}, Python {platform.python_version()}",
            "numpy": np.__version__, "commit": commit}
    Path(args.out).write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))
    lines = [
        "# Theorem 4's stacks for the catalogue (holonomy cascade -> layers)", "",
        f"Command: `{meta['command']}` at commit {commit}; {meta['machine']} (2 cores). "
        "Results: `benchmarks/results/cascades.json`.", "",
        "Paper's bound (Theorem 4 via Krohn–Rhodes): at most 2^|Q| layers of width <= |Q|. "
        "Goal: layers <= 2 x holonomy height. Every stack below is proved exactly "
        "(`theory.verify`).", "",
        "Value width: `V` is the default stack's (the registers' numbers in columns, each a "
        "level state); `d = 1` is the packed stack's (`packed=True`, one number a register): "
        "its largest code and whether bfloat16 holds every number (proved).", "",
        "| language | \\|Q\\| | cascade (SgpDec style) | height | layers | goal 2h | widths | "
        "max n_h | proof | V | d = 1: max code, bf16, proof | decompose s | compile s | "
        "verify s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['language']} | {r['states']} | {r['cascade']} | {r['height']} | "
            f"{r['layers']} | {r['goal_layers']} | {'/'.join(map(str, r['widths']))} | "
            f"{max(r['n_h'])} | {'proved' if r['proved'] else 'FAILED'} ({r['reachable']}) | "
            f"{r['value_dim']} | {r['packed_max_code']}, "
            f"{'exact' if r['packed_bf16_exact'] else 'NOT exact'}, "
            f"{'proved' if r['packed_proved'] and r['packed_value_dim'] == 1 else 'FAILED'} | "
            f"{r['seconds_decompose']:.2f} | {r['seconds_compile']:.2f} | "
            f"{r['seconds_verify']:.2f} |")
    Path(args.md).write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
