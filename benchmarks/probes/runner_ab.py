"""The graph runner against the plain call at the construction shapes, in one process (a
short probe for a device call with little time; ``kernels_construction.py`` has the full rows).

    python3 benchmarks/probes/runner_ab.py [--shapes 64,65536;1024,4096] [--smoke]

``--smoke``: a tiny shape on the CPU through Triton's interpreter (the CI test).

Per shape, random K = V = 16 tables of 4 symbols (as kernels_construction.py), ``o`` output:
``run_tabled`` with the checks on (the default call) and off, ``TabledRunner`` with the ids
copied and written in place; the wall median (do_bench), the host's and the loop's time a call
(host_times) and the fraction of the memory floor (int32 ids in, float32 ``o`` out).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
import benchmarks.kernels_construction as kc  # noqa: E402

import torch  # noqa: E402

from statetrack.kernels.tabled import TabledRunner, run_tabled  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--shapes", default="64,65536;1024,4096")
    ap.add_argument("--smoke", action="store_true")
    args = ap.parse_args()
    if args.smoke:
        kc.DEV, kc.SMOKE, args.shapes = "cpu", True, "2,8"
    dev = kc.DEV
    print(torch.cuda.get_device_name() if dev == "cuda" else "cpu (interpreter)", flush=True)
    gen = torch.Generator().manual_seed(0)
    bw = kc.copy_bandwidth()
    print(f"copy bandwidth {bw / 1e12:.2f} TB/s", flush=True)
    for shape in args.shapes.split(";"):
        B, T = (int(x) for x in shape.split(","))
        kt, bt, vt = kc.tables(gen)
        sym = torch.randint(0, kc.N_SYMBOLS, (B, T), generator=gen).to(torch.int32).to(dev)
        q = torch.nn.functional.normalize(torch.randn(kc.K, generator=gen), dim=0).to(dev)
        floor = B * T * (4 + kc.V * 4) / bw * 1e3
        ref = run_tabled(sym, kt, bt, vt, query=q).check()
        runner = TabledRunner(kt, bt, vt, batch=B, length=T, symbols_dtype=sym.dtype, query=q)
        assert torch.equal(runner(sym).check().o, ref.o), "runner o differs"
        rows = [("run_tabled, checks on", lambda: run_tabled(sym, kt, bt, vt, query=q)),
                ("run_tabled, checks off", lambda: run_tabled(sym, kt, bt, vt, query=q,
                                                              check_beta=False,
                                                              check_ids=False)),
                ("TabledRunner, ids copied", lambda: runner(sym)),
                ("TabledRunner, ids in place", lambda: runner())]
        for name, fn in rows:
            fn()
            if dev == "cuda":
                torch.cuda.synchronize()
            ms = kc.bench(fn)
            host, loop = kc.host_times(fn)
            print(f"B={B} T={T} {name:28s} median {ms:.3f} ms ({100 * floor / ms:.1f} % of "
                  f"floor {floor:.3f}) host {host:.3f} loop {loop:.3f} "
                  f"({100 * floor / loop:.1f} % by loop)", flush=True)
        runner.check()


if __name__ == "__main__":
    main()
