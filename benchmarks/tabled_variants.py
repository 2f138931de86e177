"""A/B of the tabled path's kernels at the construction shapes (H100), with fla in the same run.

Times ``run_tabled`` (output ``o``, checks off): the default (``cols_kernel`` for K <= 32:
the state as K column vectors, one value column a thread, ``32 / V`` words a warp) against
the private ``_variant`` knobs (through ``statetrack.kernels.tabled.tabled._run_tabled_variant``)

* ``words``:  words a ``cols_kernel`` program (1: one word a warp, idle lanes when V < 32);
* ``pf``:     ``cols_kernel`` loads the next sub-step's table row during this one (default:
  in sequential runs only; more registers and row copies between iterations);
* ``legacy``: ``run_kernel`` / ``summary_kernel`` (the state a register tile spread over the
  threads: S^T k is a cross-thread reduction), the default before ``cols_kernel``;
* ``mm``:     every pass through ``_tabled_kernels.mm_kernel`` (a token's sub-steps composed
  into one matrix per symbol, one tensor-core product a token: bfloat16 when exact, else
  tf32x3);

with uint8 and int32 symbol ids, sequentially at (B=1024, T=4096) and at 1024-token chunks
at (B=64, T=65536) (and the default at other chunk sizes), next to fla's fused recurrent and
chunk delta rule on the same inputs; ``--profile`` adds each kernel's device time (torch
profiler) of the default at the chunked shape. With ``--construction 'SPEC;SPEC'`` the same
variants run on those constructions' own tables (integer: ``mm`` runs in bfloat16), code
output. Earlier candidates, measured and removed: load knobs of ``legacy`` (``clamp``,
``pipe``, ``f32``: at most 5 %, ``results/tabled_variants.json``) and a transposed-state
kernel ``vk`` (0.68 ms against 0.44 ms for ``cols_kernel``, ``results/tabled_variants_cols.json``).
Medians of ``triton.testing.do_bench``. Run from the repository root on a CUDA machine::

    python benchmarks/tabled_variants.py --json benchmarks/results/tabled_variants.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import statetrack.kernels._common.triton  # noqa: F401,E402  (sets the interpreter up before triton)

import torch  # noqa: E402
import triton  # noqa: E402
from triton.testing import do_bench  # noqa: E402

from benchmarks._machine import check_outputs  # noqa: E402
from statetrack.kernels.tabled import gather_tables, run_tabled  # noqa: E402
from statetrack.kernels.tabled.tabled import _run_tabled_variant  # noqa: E402

#: ``{}`` is the default (proj where it applies, since session 23); the ``pf`` rows are
#: cols_kernel's orders, so they pin proj off (proj would replace them)
VARIANTS = [{}, {"proj": False}, {"pf": True, "proj": False}, {"pf": False, "proj": False},
            {"legacy": True}, {"mm": True}]
#: extra chunk sizes of the default kernel, per shape (to set choose_chunk's rule)
EXTRA_CHUNKS = {(1024, 4096): [1024, 2048], (64, 65536): [512, 2048, 4096]}
#: variants timed on a real construction's tables (many sub-steps a token)
CONSTRUCTION_VARIANTS = [{}, {"words": 1, "proj": False}, {"legacy": True}, {"mm": True}]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--json", type=Path, required=True)
    ap.add_argument("--smoke", action="store_true", help="tiny CPU run (interpreter)")
    ap.add_argument("--profile", action="store_true",
                    help="per-kernel device times of the default at the chunked shape")
    ap.add_argument("--construction",
                    default="cyclic(16);cyclic(8);alternating(4);symmetric(3);parity",
                    help="';'-separated family specs whose constructions are also timed "
                         "('' = none)")
    args = ap.parse_args()
    # before any timing: the output (written at the end), the construction specs (were read
    # after every other row was timed), the device
    check_outputs(ap, {"--json": args.json}, make_folder=True)
    from statetrack.automata import families
    from statetrack.automata.errors import AutomatonError

    for spec in filter(None, args.construction.split(";")):
        try:
            families.get(spec)
        except AutomatonError as exc:
            ap.error(f"--construction: {spec!r}: {str(exc).splitlines()[0]}")
    if not args.smoke and not torch.cuda.is_available():
        ap.error("no CUDA device here (--smoke runs the logic on the CPU)")
    dev = "cpu" if args.smoke else "cuda"
    shapes = [(2, 8, 4)] if args.smoke else [(1024, 4096, 4096), (64, 65536, 1024)]
    bench = (lambda f: (f(), 0.0)[1]) if args.smoke else \
        (lambda f: do_bench(f, warmup=50, rep=200, return_mode="median"))
    gen = torch.Generator().manual_seed(20261123)
    K = V = 16
    rows = []
    try:
        from fla.ops.delta_rule import chunk_delta_rule, fused_recurrent_delta_rule
    except Exception as exc:
        print("fla import failed:", repr(exc))
        chunk_delta_rule = fused_recurrent_delta_rule = None
    for B, T, L in shapes:
        kt, bt, vt, sym, query = random_problem(gen, B, T, K, V, dev)
        sym8 = sym.to(torch.uint8)
        ref = _run_tabled_variant(sym, kt, bt, vt, query=query, chunk_size=L,
                                  _variant={"legacy": True})
        if fused_recurrent_delta_rule is not None:
            k, v, beta = (t.contiguous() for t in gather_tables(sym, kt, bt, vt, 1))
            q = query.bfloat16().view(1, 1, 1, K).expand(B, T, 1, K).contiguous()
            for name, fn in (("fla fused_recurrent_delta_rule", fused_recurrent_delta_rule),
                             ("fla chunk_delta_rule", chunk_delta_rule)):
                ms = bench(lambda fn=fn: fn(q, k, v, beta, scale=1.0, output_final_state=True))
                rows.append({"B": B, "T": T, "impl": name, "ms": ms})
                print(f"B={B} T={T} {name:40s} {ms:.3f} ms", flush=True)
            del k, v, beta, q
        runs = [(var, L) for var in VARIANTS] + [({}, c) for c in EXTRA_CHUNKS.get((B, T), [])]
        for var, Lr in runs:
            for ids, s in (("int32", sym), ("uint8", sym8)) if not var else (("uint8", sym8),):
                label = f"tabled chunk={Lr if Lr < T else 'seq'} {ids} {var or 'default'}"
                try:
                    r = _run_tabled_variant(s, kt, bt, vt, query=query, chunk_size=Lr,
                                            _variant=var)
                    err = float((r.o - ref.o).abs().max())
                    ms = bench(lambda s=s, var=var, Lr=Lr: _run_tabled_variant(
                        s, kt, bt, vt, query=query, chunk_size=Lr, check_beta=False,
                        check_ids=False, _variant=var))
                except Exception as exc:  # a variant that does not compile is a result too
                    err, ms = None, None
                    print(label, "failed:", repr(exc)[:300])
                rows.append({"B": B, "T": T, "impl": label, "ms": ms, "max_abs_diff_o": err})
                print(f"B={B} T={T} {label:60s} {ms if ms is None else round(ms, 3)} ms  "
                      f"diff {err}", flush=True)
    if args.profile and not args.smoke:
        rows += profile_rows(shapes[-1], gen)
    for spec in filter(None, args.construction.split(";")):
        rows += construction_rows(spec, shapes, dev, bench, gen)
    meta = {"device": dev if args.smoke else torch.cuda.get_device_name(),
            "torch": torch.__version__, "triton": triton.__version__,
            "command": " ".join(["python"] + sys.argv)}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))


def random_problem(gen, B, T, K, V, dev):
    """Four symbols' bf16 tables (unit keys, beta in [0, 2]), int32 ids [B, T], a query."""
    kt = torch.nn.functional.normalize(torch.randn(4, 1, K, generator=gen), dim=-1)
    kt, bt, vt = (kt.bfloat16().to(dev), (2 * torch.rand(4, 1, generator=gen)).bfloat16().to(dev),
                  torch.randn(4, 1, V, generator=gen).bfloat16().to(dev))
    sym = torch.randint(0, 4, (B, T), generator=gen).to(torch.int32).to(dev)
    return kt, bt, vt, sym, torch.randn(K, generator=gen).to(dev)


def profile_rows(shape, gen):
    """Device time of each kernel of the default path (torch profiler, 20 calls)."""
    from torch.profiler import ProfilerActivity, profile

    B, T, L = shape
    K = V = 16
    kt, bt, vt, sym, query = random_problem(gen, B, T, K, V, "cuda")
    sym = sym.to(torch.uint8)
    rows = []
    for output in ("o", "none"):
        def call():
            run_tabled(sym, kt, bt, vt, query=query, chunk_size=L, output=output,
                       check_beta=False, check_ids=False)
        call()
        torch.cuda.synchronize()
        with profile(activities=[ProfilerActivity.CUDA]) as prof:
            for _ in range(20):
                call()
            torch.cuda.synchronize()
        for ev in prof.key_averages():
            us = getattr(ev, "device_time_total", getattr(ev, "cuda_time_total", 0.0))
            if us <= 0:
                continue
            rows.append({"B": B, "T": T, "impl": f"profile output={output} chunk={L}",
                         "kernel": ev.key[:80], "calls": ev.count, "us_per_call": us / 20})
            print(f"profile B={B} T={T} output={output} {ev.key[:60]:60s} "
                  f"{us / 20:9.1f} us/call  ({ev.count} launches)", flush=True)
    return rows


def construction_rows(spec, shapes, dev, bench, gen):
    """The variants on the tables of ``spec``'s construction (output: codes)."""
    from statetrack.automata import families
    from statetrack.constructions import compile
    from statetrack.constructions.export import symbol_tables

    lrnn = compile(families.get(spec), name=spec)
    tb = symbol_tables(lrnn, dtype="bfloat16", backend="torch")
    kt, bt, vt = (tb[n].to(dev) for n in ("key_table", "beta_table", "value_table"))
    q, h0 = tb["query"].to(dev), tb["initial_state"].to(dev)[None]
    codes = torch.as_tensor(tb["codes"], dtype=torch.float32, device=dev)
    rows = []
    for B, T, L in shapes:
        sym = torch.randint(0, kt.shape[0], (B, T), generator=gen).to(torch.uint8).to(dev)
        ref = _run_tabled_variant(sym, kt, bt, vt, initial_state=h0, query=q, codes=codes,
                                  output="code", chunk_size=L, _variant={"legacy": True})
        for var in CONSTRUCTION_VARIANTS:
            label = f"{spec} (K={lrnn.width}, n_h={lrnn.n_h}) chunk={L if L < T else 'seq'} " \
                    f"{var or 'default'}"
            r = _run_tabled_variant(sym, kt, bt, vt, initial_state=h0, query=q, codes=codes,
                                    output="code", chunk_size=L, _variant=var)
            wrong = int((r.code != ref.code).sum())
            ms = bench(lambda var=var: _run_tabled_variant(
                sym, kt, bt, vt, initial_state=h0, query=q, codes=codes, output="code",
                chunk_size=L, check_beta=False, check_ids=False, _variant=var))
            rows.append({"B": B, "T": T, "impl": label, "ms": ms, "codes_differing": wrong})
            print(f"B={B} T={T} {label:60s} {round(ms, 3)} ms  differing codes {wrong}",
                  flush=True)
    return rows


if __name__ == "__main__":
    main()
