"""Cross-compile ``cols_kernel`` for sm_90 on a machine without a GPU and count what matters.

For each variant (output ``o`` / ``code`` by argmin / ``code`` by a code table, ids checked
in the kernel or not), at the construction benchmark's shape (K = V = 16, n_h = 1, C = 3,
float32 state, uint8 ids), prints the registers and spills (``cuobjdump
--dump-resource-usage``) and the SASS instruction counts of the whole kernel: shuffles
(``SHFL``, the cross-lane reductions), global loads and stores, and all instructions. The
per-token loop dominates, so differences between variants are per-token differences.

Pointer arguments are compiled as 16-byte aligned, as the launcher specializes them at run
time (without that, before session 10, the compile split the tables' vector loads into
scalar ones with shared-memory round trips: 133 instructions a token instead of 85). The
``loop`` column is the longest loop's body: the per-token loop. To see what the device
compiles, run it with the device's Triton (3.6) in front of the path::

    pip install --no-deps --target /tmp/t36 triton==3.6.0
    PYTHONPATH=/tmp/t36:$PWD python benchmarks/tabled_sass.py

Run from the repository root (no GPU needed; ``TRITON_INTERPRET`` must be unset)::

    python benchmarks/tabled_sass.py [--chunked] [--json PATH]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

os.environ.pop("TRITON_INTERPRET", None)
os.environ.setdefault("TRITON_DEFAULT_FP_FUSION", "1")   # what Triton 3.6 does (the device)
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import triton  # noqa: E402
from triton.backends.compiler import GPUTarget  # noqa: E402
from triton.compiler import ASTSource  # noqa: E402

from benchmarks._machine import describe, output_problem, write_json  # noqa: E402
from statetrack.kernels.tabled import _tabled_kernels as kern  # noqa: E402

PTRS = {"sym": "*u8", "pt": "*fp32", "h0": "*fp32", "starts": "*fp32", "qv": "*fp32",
        "codes": "*fp32", "o": "*fp32", "cls": "*i32", "states": "*fp32", "ht": "*fp32",
        "flags": "*i32", "lut_w": "*fp32", "lut": "*i32"}
SCALARS = {"gen": "i32", "scale": "fp32", "T": "i32", "L": "i32", "BH": "i32", "S": "i32", "NZ": "i32"}


def variants(chunked: bool) -> dict[str, dict]:
    K = V = 16
    base = dict(H=1, HT=1, K=K, KP=16, WC=V, BW=16, P=2, NH=1, C=3, BCC=4, G=4,
                H0_MODE=3 if chunked else 0, OUT_O=False, OUT_CODE=False, STORE_STATES=False,
                FINAL=0 if chunked else 1, PF=0 if chunked else 1, CHECK_IDS=False, CODE_LUT=False,
                V0=0, ACC="fp32", LATE=False, LUT_ID=0)
    return {
        "o": dict(base, OUT_O=True),
        "o, late readout": dict(base, OUT_O=True, LATE=True),
        # two sub-steps an iteration, rows loaded two ahead (session 17); loop = two tokens
        "o, deep prefetch": dict(base, OUT_O=True, PF=2 if not chunked else 0),
        "code (table), deep prefetch": dict(base, OUT_CODE=True, CODE_LUT=True, LATE=True,
                                            PF=2 if not chunked else 0),
        # an identity code table (the group languages'; session 22): z itself, no table load
        "code (identity table), deep": dict(base, OUT_CODE=True, CODE_LUT=True, LATE=True,
                                            PF=2 if not chunked else 0, LUT_ID=-1),
        # a table holding some z (the others -1): their bit mask instead of the load
        "code (masked identity), deep": dict(base, OUT_CODE=True, CODE_LUT=True, LATE=True,
                                             PF=2 if not chunked else 0,
                                             LUT_ID=1 + 2 + 4 + 8 + 2 ** 15),
        # the code table's readout is late by default (session 11); its early order beside
        "code (table), early readout": dict(base, OUT_CODE=True, CODE_LUT=True),
        "code (argmin), late readout": dict(base, OUT_CODE=True, LATE=True),
        "o, ids checked": dict(base, OUT_O=True, CHECK_IDS=True),
        "code (argmin)": dict(base, OUT_CODE=True),
        "code (table)": dict(base, OUT_CODE=True, CODE_LUT=True, LATE=True),
        "code (table), ids checked": dict(base, OUT_CODE=True, CODE_LUT=True, CHECK_IDS=True,
                                          LATE=True),
        "none (final state)": dict(base),
        # the chunked run's summary pass: [M | C] from [I | 0] over K + V columns
        "summary (K + V columns)": dict(base, WC=32, BW=32, P=1, H0_MODE=4, FINAL=2, PF=0),
    }


#: ``proj_kernel`` (the ``proj`` variant, session 22): its arguments and variants, at the same
#: shape (R = 4 table rows: 4 symbols, n_h = 1); its loop runs four sub-steps an iteration
#: (compare with "o, deep prefetch", whose loop is four sub-steps too)
PROJ_PTRS = {"sym": "*u8", "sym8": "*u8", "pr_t": "*fp32", "kt": "*bf16", "h0": "*fp32", "starts": "*fp32",
             "qv": "*fp32", "o": "*fp32", "cls": "*i32", "ht": "*fp32", "flags": "*i32",
             "lut_w": "*fp32", "lut": "*i32"}


def proj_variants(chunked: bool) -> dict[str, dict]:
    base = dict(H=1, HT=1, K=16, R=4, RP=4, WC=16, BW=16, P=2, NH=1, G=4,
                H0_MODE=3 if chunked else 0, OUT_O=False, OUT_CODE=False,
                FINAL=0 if chunked else 1, CHECK_IDS=False, V0=0, ACC="fp32", LUT_ID=0,
                NARROW=False, AHEAD=False, END_PRED=False, PF_IDS=0, PINGPONG=False, IDS_BLOCK=False,
                CHAIN=False)
    return {"proj o": dict(base, OUT_O=True),
            # the next iteration's rows loaded during this one (session 28)
            "proj o, rows ahead": dict(base, OUT_O=True, AHEAD=True),
            # the ids prefetched into L1 64 tokens ahead (PF_IDS, session 30)
            "proj o, rows ahead, ids prefetched": dict(base, OUT_O=True, AHEAD=True, PF_IDS=64),
            # two iterations a trip, the rows in two buffers (PINGPONG, session 31): the loop
            # column is then two iterations' (eight sub-steps)
            "proj o, rows ahead, ids prefetched, ping-pong": dict(base, OUT_O=True, AHEAD=True,
                                                                   PF_IDS=64, PINGPONG=True),
            "proj o, rows ahead, ping-pong": dict(base, OUT_O=True, AHEAD=True, PINGPONG=True),
            # and each block's ids from one clamped start (IDS_BLOCK, session 31)
            "proj o, rows ahead, ids prefetched, ping-pong, ids a block": dict(
                base, OUT_O=True, AHEAD=True, PF_IDS=64, PINGPONG=True, IDS_BLOCK=True),
            "proj o, rows ahead, ids prefetched, ids a block": dict(
                base, OUT_O=True, AHEAD=True, PF_IDS=64, IDS_BLOCK=True),
            # and the shorter chain from token to token (CHAIN, session 33): p_r by a tree of
            # selects, d by one multiply-add (the default since session 32 above, plus it)
            "proj o, rows ahead, ids prefetched, ids a block, chain": dict(
                base, OUT_O=True, AHEAD=True, PF_IDS=64, IDS_BLOCK=True, CHAIN=True),
            # three sub-steps a token with the rows ahead: the token's end a branch in the loop,
            # or masked stores (END_PRED, session 30: the loop's only branch its back edge)
            "proj o, n_h 3, rows ahead": dict(base, OUT_O=True, AHEAD=True, NH=3, R=6, RP=8),
            "proj o, n_h 3, rows ahead, END_PRED": dict(base, OUT_O=True, AHEAD=True, NH=3, R=6,
                                                        RP=8, END_PRED=True),
            "proj code (table)": dict(base, OUT_CODE=True),
            "proj code (identity table)": dict(base, OUT_CODE=True, LUT_ID=-1),
            "proj code (masked identity)": dict(base, OUT_CODE=True,
                                                LUT_ID=1 + 2 + 4 + 8 + 2 ** 15),
            "proj o, ids checked": dict(base, OUT_O=True, CHECK_IDS=True),
            # the construction benchmark's permutation rows (V = 1: eight words a warp, four
            # lanes each, one used; the rows ahead, no prefetch below V = 4): o against the
            # code by each kind of table (the benchmark's is the masked identity)
            **{f"perm V=1, {name}": dict(base, WC=1, BW=4, P=8, AHEAD=True, **kw)
               for name, kw in (("o", dict(OUT_O=True)),
                                ("code (table)", dict(OUT_CODE=True)),
                                ("code (identity table)", dict(OUT_CODE=True, LUT_ID=-1)),
                                ("code (masked identity)", dict(OUT_CODE=True,
                                                                LUT_ID=1 + 2 + 4 + 8 + 2 ** 15)),
                                ("o, ids a block", dict(OUT_O=True, IDS_BLOCK=True)),
                                ("o, ids a block, chain", dict(OUT_O=True, IDS_BLOCK=True,
                                                               CHAIN=True)),
                                ("code (masked identity), ids a block, chain",
                                 dict(OUT_CODE=True, LUT_ID=1 + 2 + 4 + 8 + 2 ** 15,
                                      IDS_BLOCK=True, CHAIN=True)))},
            "proj summary (K + V columns)": dict(base, WC=32, BW=32, P=1, H0_MODE=4,
                                                 FINAL=2),
            # the summary over the keys' and values' bases (8 columns), ids checked; and the
            # same reading int32 ids and narrowing them (NARROW, session 25)
            "proj summary (bases)": dict(base, WC=8, BW=8, P=4, H0_MODE=5, FINAL=3,
                                         CHECK_IDS=True),
            "proj summary (bases), narrow": dict(base, WC=8, BW=8, P=4, H0_MODE=5, FINAL=3,
                                                 CHECK_IDS=True, NARROW=True)}


def tool(name: str) -> str:
    return str(Path(triton.__file__).parent / "backends" / "nvidia" / "bin" / name)


_INSTR = re.compile(r"\s+/\*[0-9a-f]{4,}\*/")       # an instruction line (its address)


def loop_length(sass: str) -> int:
    """The longest loop body in ``nvdisasm -c`` output: for each branch back to a label above
    it, the instructions from the label to the branch (inclusive); 0 without one.

    Examples
    --------
    >>> text = "\\n".join(["        /*0000*/  MOV R1, c[0x0][0x28] ;", ".L_x_0:",
    ...                   "        /*0010*/  IADD3 R2, R2, 0x1, RZ ;",
    ...                   "        /*0020*/  @P0 BRA `(.L_x_1) ;",
    ...                   "        /*0030*/  @P1 BRA `(.L_x_0) ;", ".L_x_1:",
    ...                   "        /*10000*/  EXIT ;", ".L_x_2:", "        /*10010*/  BRA `(.L_x_2);"])
    >>> loop_length(text)
    3
    """
    labels, loop, n = {}, 0, 0
    for ln in sass.splitlines():
        m = re.match(r"(\.L_x_\d+):", ln.strip())
        if m:
            labels[m.group(1)] = n
        elif _INSTR.match(ln):
            b = re.search(r"\bBRA\b.*`\((\.L_x_\d+)\)", ln)
            if b and b.group(1) in labels:
                loop = max(loop, n - labels[b.group(1)] + 1)
            n += 1
    return loop


def compile_one(consts: dict, kernel=None, ptrs: dict | None = None,
                maxnreg: int | None = None) -> dict:
    kernel = kern.cols_kernel if kernel is None else kernel
    ptrs = PTRS if ptrs is None else ptrs
    consts = dict(consts)
    acc = consts.pop("ACC")
    sig = {**ptrs, **SCALARS}
    sig.update({k: "constexpr" for k in consts})
    sig["ACC"] = "constexpr"
    import triton.language as tl
    consts["ACC"] = tl.float32 if acc == "fp32" else tl.float64
    # pointer arguments 16-byte aligned, as the launcher specializes them at run time
    # (torch allocations are): without this the compile splits the tables' vector loads
    names = kernel.arg_names
    sig = {n: sig[n] for n in names}                   # in the kernel's argument order
    attrs = {(names.index(p),): [["tt.divisibility", 16]] for p in ptrs}
    src = ASTSource(kernel, sig, consts, attrs)
    opts = {"num_warps": 1, "num_stages": 1}
    if maxnreg:
        opts["maxnreg"] = maxnreg
    ck = triton.compile(src, target=GPUTarget("cuda", 90, 32), options=opts)
    with tempfile.TemporaryDirectory() as d:
        cubin = Path(d) / "k.cubin"
        cubin.write_bytes(ck.asm["cubin"])
        usage = subprocess.run([tool("cuobjdump"), "--dump-resource-usage", str(cubin)],
                               capture_output=True, text=True).stdout
        sass = subprocess.run([tool("nvdisasm"), "-c", str(cubin)], capture_output=True,
                              text=True).stdout
    regs = re.search(r"REG:(\d+)", usage)
    stack = re.search(r"STACK:(\d+)", usage)
    ins = [ln for ln in sass.splitlines() if _INSTR.match(ln)]

    def count(pat: str) -> int:
        return sum(1 for ln in ins if re.search(pat, ln))

    loop = loop_length(sass)       # the per-token loop of a run pass

    return {"registers": int(regs.group(1)) if regs else None,
            "stack_bytes": int(stack.group(1)) if stack else None,
            "instructions": len(ins), "loop": loop, "SHFL": count(r"\bSHFL\."),
            "LDG": count(r"\bLDG"),
            "STG": count(r"\bSTG"), "BAR": count(r"\bBAR\b")}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--chunked", action="store_true",
                    help="the run pass of a chunked run (starts from chunk start states)")
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--proj", action="store_true",
                    help="also proj_kernel (the proj variant), with and without maxnreg 255")
    args = ap.parse_args(argv)
    if (problem := output_problem(args.json)) is not None:
        ap.error(f"--json: {problem}")
    rows = {}
    print(f"triton {triton.__version__}, sm_90, cols_kernel run pass, K = V = 16, n_h = 1, "
          f"C = 3, {'chunked' if args.chunked else 'sequential'}")
    print(f"{'variant':28s} {'regs':>5s} {'stack':>5s} {'instr':>6s} {'loop':>5s} "
          f"{'SHFL':>5s} {'LDG':>4s} {'STG':>4s}")
    todo = [(name, consts, None, None, None) for name, consts in variants(args.chunked).items()]
    if args.proj:
        todo += [(name + suffix, consts, kern.proj_kernel,
                  dict(PROJ_PTRS, sym="*i32") if consts.get("NARROW") else PROJ_PTRS, reg)
                 for name, consts in proj_variants(args.chunked).items()
                 for suffix, reg in (("", None), (", maxnreg 255", 255))]
    for name, consts, kernel, ptrs, reg in todo:
        r = compile_one(consts, kernel, ptrs, reg)
        rows[name] = r
        print(f"{name:28s} {r['registers']!s:>5s} {r['stack_bytes']!s:>5s} "
              f"{r['instructions']:6d} {r['loop']:5d} {r['SHFL']:5d} {r['LDG']:4d} "
              f"{r['STG']:4d}")
    if args.json:
        c = variants(args.chunked)["o"]
        shape = {"K": c["K"], "V": c["WC"], "n_h": c["NH"], "C": c["C"], "state": "float32",
                 "ids": PTRS["sym"][1:]}
        doc = describe(__file__, argv, triton=triton.__version__, target="sm_90",
                       kernel="cols_kernel",
                       **{"pass": "chunked" if args.chunked else "sequential"}, shape=shape)
        doc["rows"] = rows
        write_json(ap, "--json", args.json, doc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
