"""Which pass goes wrong with ``proj_kernel``'s rows-ahead order in chunked calls (session 28).

On an H100 (Triton 3.6) a chunked call at three sub-steps a token gave wrong ``o`` from the
first token with ``_launch.PROJ_AHEAD`` on, while the final state stayed right and the
interpreter's outputs were bit-identical; at that commit the switch reached the summary pass
too. This probe (written by a review helper) wraps ``proj_kernel``'s launches and turns
``AHEAD`` on for the run pass only, the summary pass only, or both, with and without the
narrowing inside the summary pass, and compares ``o``, the final state and the one-byte ids
the run pass read against the plain order:

* only "summ" with narrowing wrong, and the run pass's ids wrong: the summary pass's
  narrowing under ``AHEAD``;
* "run" wrong with the right ids: the run pass's build (a compiler fault below Triton's IR,
  or a semantic difference from the interpreter).

    python3 benchmarks/probes/ahead_fault.py [--quick]

Session 30 (H100): "run" wrong with the right ids at n_h = 3 (chunked), "summ" right, n_h = 2
right. With n_h = 3 a token ends at another sub-step of each four-sub-step iteration, so the
token-end test in the unrolled loop is a real branch (it folds away at n_h = 1, 2, 4); modes
"+pred" add ``END_PRED`` (the token's end by masked stores, no branch): "none+pred" right and
"run+pred" right would put the fault on the branch (and let the rows ahead apply at n_h = 3
with ``END_PRED``); "run+pred" wrong, elsewhere.

``--quick`` runs the first case only (the interpreter test in CI).
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
import statetrack.kernels._common.triton  # noqa: F401,E402

import torch  # noqa: E402

from statetrack.kernels.tabled import _launch, run_tabled  # noqa: E402

DEV = "cuda" if torch.cuda.is_available() else "cpu"
CASES = [(3, 23, 5), (3, 23, 4), (2, 23, 5), (3, 8, 8), (3, 23, 23)]  # (n_h, T, chunk)
MODES = ("none", "run", "summ", "both", "none+pred", "run+pred", "both+pred")


class Spy:
    """``proj_kernel`` with ``AHEAD`` set per pass (``mode``: none, run, summ, both; a
    "+pred" suffix also sets ``END_PRED`` in every pass); each launch logged with the ids it
    read."""

    def __init__(self, real):
        self.real, self.mode, self.log = real, "none", []

    def __getitem__(self, grid):
        def go(*a, **m):
            summ = m["H0_MODE"] >= 4
            mode, _, pred = self.mode.partition("+")
            on = mode == "both" or (mode == "run" and not summ) or (mode == "summ" and summ)
            m = dict(m, AHEAD=on, END_PRED=bool(pred))
            if on:
                m.pop("maxnreg", None)
            r = self.real[grid](*a, **m)
            if DEV == "cuda":
                torch.cuda.synchronize()
            self.log.append((summ, a[0].clone()))
            return r
        return go


def _tables(g, S, n_h, H, K, V):
    kt = torch.nn.functional.normalize(torch.randn(S, n_h, H, K, generator=g), dim=-1)
    bt = 2 * torch.rand(S, n_h, H, generator=g)
    vt = torch.randn(S, n_h, H, V, generator=g)
    return kt.to(DEV), bt.to(DEV), vt.to(DEV)


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    cases = CASES[:1] if "--quick" in argv else CASES
    spy = Spy(_launch._kern.proj_kernel)
    saved = (_launch._kern.proj_kernel, _launch.NARROW_IN_SUMMARY, _launch.PROJ_AHEAD)
    _launch._kern.proj_kernel, _launch.PROJ_AHEAD = spy, False
    wrong = 0
    try:
        for n_h, T, L in cases:
            for narrow in (False, True):
                g = torch.Generator().manual_seed(1)
                S = 2 if n_h == 3 else 3
                kt, bt, vt = _tables(g, S, n_h, 2, 8, 3)
                sym = torch.randint(0, S, (3, T), generator=g).to(DEV)
                q = torch.randn(2, 8, generator=g).to(DEV)
                _launch.NARROW_IN_SUMMARY = narrow
                res = {}
                for mode in MODES:
                    spy.mode, spy.log = mode, []
                    r = run_tabled(sym, kt, bt, vt, query=q, chunk_size=L)
                    runs = [ids for summ, ids in spy.log if not summ]
                    ok = bool(torch.equal(runs[0].to(torch.int64).reshape(sym.shape),
                                          sym.to(torch.int64))) if runs else None
                    res[mode] = (r.o.clone(), r.final_state.clone(), ok)
                o0, f0, _ = res["none"]
                for mode in MODES[1:]:
                    o, f, ok = res[mode]
                    same = bool(torch.equal(o, o0))
                    wrong += not same
                    print(f"n_h={n_h} T={T} L={L} narrow={narrow} ahead={mode:9s} o_eq={same} "
                          f"maxdiff={(o - o0).abs().max().item():.3g} "
                          f"final_eq={torch.equal(f, f0)} run_ids_ok={ok}", flush=True)
    finally:
        _launch._kern.proj_kernel, _launch.NARROW_IN_SUMMARY, _launch.PROJ_AHEAD = saved
    print(f"{wrong} wrong")
    return 0


if __name__ == "__main__":
    sys.exit(main())
