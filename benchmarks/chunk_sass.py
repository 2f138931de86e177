"""Cross-compile the chunked DeltaProduct kernels' WY kernels for sm_90 without a GPU and
report registers, stack (spills) and local-memory traffic per launch setting.

The roofline (session 9, ``results/roofline_h200.md``) found ``wy_fwd_kernel`` and
``bwd_wy_kernel`` latency-bound on ``long_scoreboard`` stalls at the 255-register cap; local
memory (spills) shows up as exactly that stall. This script compiles either kernel at a
shape and dtype for a list of (value block, warps, stages) settings and prints, per setting,
the registers a thread, the stack bytes, and the count of local loads/stores (``LDL``/``STL``)
in the SASS. It uses the Triton installed here (the device runs Triton 3.6; install that
version in a separate environment to read exactly what the device compiles).

A caution from the first use: under Triton 3.9 the float32 chunk-16 ``bwd_wy`` compiles to
255 registers and 920 B of stack at (32, 2, 2) and without spills at (32, 8, 2), yet on the
H200 (Triton 3.6) (32, 2, 2) was the faster of the two (0.10 vs 0.22 ms,
``results/train_shape_h200.md``): spills predict only within one Triton version, and a
timing decides.

``--json PATH`` writes the rows under what made them (tool, Triton version, kernel, pass,
shape, commit and command), as ``tabled_sass.py`` does.

    python benchmarks/chunk_sass.py                                   # bwd_wy, model shape 1u
    python benchmarks/chunk_sass.py --dtype float32 --K 32 --chunk 16 --configs 32:2:2,32:8:2
    python benchmarks/chunk_sass.py --kernel wy_fwd --json OUT.json
    python benchmarks/chunk_sass.py --kernel bwd_wy_v --configs 64:8:2,64:4:2   # split bwd_wy
    python benchmarks/chunk_sass.py --kernel bwd_wy_t --configs 64:4:2,64:8:2

``bwd_wy_v`` and ``bwd_wy_t`` are the two kernels of the non-default split ``bwd_wy``
(issue 12: the value-block loop, then the ``dT`` / ``dA`` chain); ``bwd_wy_t`` has no value
block (its BV is ignored). ``fwd_state`` is the state pass as the forward runs it (outputs
only), ``fwd_state_save`` the same pass also storing the states and ``D`` (the opt-in
``save_states``, issue 12), ``state_rec`` the backward's recomputation (stores only), ``bwd_state`` / ``bwd_o`` the
backward's reverse state pass and output-formula kernel (n_h = 1; their partial gradients
float32 unless ``--lp-bwd``), ``wy_loop`` the loop form of ``wy_fwd`` (chunk 64; the 16-bit
default since session 19). Each row also says how many blocks of that setting fit on one
H200 SM by registers and by shared memory (65536 registers, 228 KB of shared memory a SM,
227 KB a block at most; registers are allocated per warp in units of 256).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:                     # run as a script: benchmarks/ is importable
    sys.path.insert(0, str(ROOT))
from benchmarks._machine import describe, output_problem, write_json  # noqa: E402

KERNELS = ("bwd_wy", "wy_fwd", "bwd_wy_v", "bwd_wy_t", "fwd_state", "fwd_state_save",
           "state_rec", "bwd_state", "bwd_o", "wy_loop")
#: the variants of one Triton function: its name in the JSON's ``kernel``
_FUNCTIONS = {"fwd_state": "fwd_state_kernel", "fwd_state_save": "fwd_state_kernel",
              "state_rec": "fwd_state_kernel"}
DTYPES = {"bfloat16": "bf16", "float16": "fp16", "float32": "fp32"}
DEFAULT_CONFIGS = "16:8:2,32:8:2,64:8:2,64:4:2,32:4:2"
_INSTR = re.compile(r"\s+/\*[0-9a-f]{4,}\*/")       # an instruction line (its address)


def sass_counts(sass: str) -> dict[str, int]:
    """The local loads and stores (``LDL``, ``STL``) among the instructions of ``nvdisasm -c``
    output, every address counted (past 0xffff the address has more than four digits).

    Examples
    --------
    >>> text = "\\n".join(["        /*0000*/  LDL R1, [R1] ;", ".L_x_0:",
    ...                   "        /*fff0*/  STL [R1], R2 ;",
    ...                   "        /*10000*/  LDL.64 R2, [R1+0x8] ;",
    ...                   "        /*1a2b0*/  STL.128 [R1], R4 ;", "        /*1a2c0*/  EXIT ;"])
    >>> sass_counts(text)
    {'instructions': 5, 'LDL': 2, 'STL': 2}
    """
    ins = [ln for ln in sass.splitlines() if _INSTR.match(ln)]
    return {"instructions": len(ins), "LDL": sum(1 for ln in ins if re.search(r"\bLDL", ln)),
            "STL": sum(1 for ln in ins if re.search(r"\bSTL", ln))}


def blocks_per_sm(regs: int | None, shared: int, warps: int) -> dict[str, int | None]:
    """How many blocks fit on one H200 (sm_90) SM by registers and by shared memory.

    Registers: 65536 a SM, allocated per warp in units of 256 (``regs`` a thread rounded up
    to a multiple of 8); shared memory: 228 KB a SM with 1 KB reserved per block, 227 KB a
    block at most. The block limit of 32 a SM is not binding for these kernels.

    Examples
    --------
    >>> blocks_per_sm(251, 131072, 8)          # the default bwd_wy at the model shape
    {'blocks_by_regs': 1, 'blocks_by_shared': 1}
    >>> blocks_per_sm(128, 65536, 8)
    {'blocks_by_regs': 2, 'blocks_by_shared': 3}
    >>> blocks_per_sm(255, 0, 4)
    {'blocks_by_regs': 2, 'blocks_by_shared': 32}
    """
    by_regs = None
    if regs:
        per_warp = -(-regs * 32 // 256) * 256
        by_regs = 65536 // (per_warp * warps)
    by_shared = 32 if shared == 0 else (228 * 1024) // (shared + 1024)
    return {"blocks_by_regs": by_regs, "blocks_by_shared": by_shared}


def _parse_configs(text: str) -> list[tuple[int, int, int]]:
    out = []
    for part in text.split(","):
        bits = part.split(":")
        if len(bits) != 3 or not all(b.isdigit() for b in bits):
            raise ValueError(f"--configs: expected BV:WARPS:STAGES items, got {part!r}")
        bv, warps, stages = (int(b) for b in bits)
        if bv < 16 or bv & (bv - 1) or warps not in (1, 2, 4, 8, 16) or stages < 1:
            raise ValueError(f"--configs: {part!r}: the value block must be a power of two "
                             ">= 16, warps one of 1, 2, 4, 8, 16, stages >= 1")
        out.append((bv, warps, stages))
    return out


def compile_one(kernel: str, dtype: str, K: int, V: int, chunk: int, bv: int, warps: int,
                stages: int, gate: bool = False, L: int = 4096, lp_bwd: bool = False,
                row64: bool = False, early: bool = False, nc1: bool = False, nh: int = 1,
                nest: bool = False, qkin: bool = False, tfused: bool = False,
                stack: bool = False, hoist: bool = False) -> dict:
    """Compile ``kernel`` for sm_90 and return its resource usage and SASS counts. ``L``
    (sub-steps, T * n_h) matters only through its divisibility by 16, which Triton's launcher
    specializes at run time (the model rows' 4096 is). ``dD`` is in the input dtype (as
    ``chunk.py`` allocates it); ``lp_bwd`` puts the partials ``dko`` and ``dvloc`` there too
    (as the 16-bit default since session 19 does; ``_CONFIG_OVERRIDE["lp_bwd"]``), else they
    are float32. ``row64`` compiles the 64-bit-offset
    variant that rows past ``chunk.MAX_ROW_ELEMENTS`` elements run; ``early`` the state passes'
    ``EARLY`` order (their loads that feed no product first; the 16-bit default). The forward kernels
    (``wy_fwd``, ``wy_loop``, the ``fwd_state`` passes) are compiled with ``HI`` (float32 ``U``
    and float32 operands of the forward's cancelling sums) where ``chunk.py`` turns it on:
    16-bit inputs with ``K <= chunk.HI_MAX_K``; the row says which (``"hi"``). ``nc1``
    compiles the sequential passes (``fwd_state``, ``bwd_state``, ``bwd_o``) for a call of one
    token chunk as Triton's launcher specializes it (``NC`` a constant 1, so a loop of one
    step; session 20's one-chunk fault; ``chunk.py`` now runs such calls unspecialized).
    ``nh`` is the number of Householder factors of the state passes and ``wy_loop``;
    ``nest`` unrolls a token chunk's sub-chunks in ``fwd_state`` / ``fwd_state_save``
    (``NEST``) and ``qkin`` has them read the scores from a buffer (``QKIN``) or, for
    ``wy_loop``, write them (``QK``; session 21's opt-in path). ``tfused`` has
    ``fwd_state`` form ``D`` from ``T``, the values and beta (``TFUSED``) and ``wy_loop``
    write ``T`` alone (``WU`` off)."""
    os.environ.pop("TRITON_INTERPRET", None)
    os.environ.setdefault("TRITON_DEFAULT_FP_FUSION", "1")
    import triton
    import triton.language as tl
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource

    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from statetrack.kernels.delta_product import _chunk_kernels as kern
    from statetrack.kernels.delta_product.chunk import HI_MAX_K

    p = "*" + DTYPES[dtype]
    f32 = "*fp32"
    BK = max(16, triton.next_power_of_2(K))
    mm = {"bfloat16": tl.bfloat16, "float16": tl.float16, "float32": tl.float32}[dtype]
    common = dict(H=4, K=K, V=V, BK=BK, BT=chunk, USE_G=gate, MM=mm, PREC="ieee", EMU=False,
                  ROW64=row64)
    part = p if lp_bwd else f32              # the partials dko / dvloc (float32 by default)
    hi = None                                # HI: forward kernels only (None: no such flag)
    if kernel in ("wy_fwd", "wy_loop", "fwd_state", "fwd_state_save", "state_rec"):
        hi = dtype != "float32" and K <= HI_MAX_K
    pu = f32 if hi else p                    # U: float32 with HI
    if kernel == "bwd_wy":
        fn = kern.bwd_wy_kernel
        sig = dict(k=p, v=p, beta=p, gsub=f32, tmat=p, hbuf=p, dhbuf=p, dbuf=p, ddbuf=p,
                   dko=part, dk=p, dv=p, dbeta=p, dgsub=f32, L="i32")
        consts = dict(common, BV=min(bv, max(16, triton.next_power_of_2(V))))
    elif kernel == "bwd_wy_v":
        fn = kern.bwd_wy_v_kernel
        sig = dict(k=p, v=p, beta=p, gsub=f32, tmat=p, hbuf=p, dhbuf=p, dbuf=p, ddbuf=p,
                   dko=part, dv=p, dwbuf=p, dtbuf=f32, dbbuf=f32, dlast=f32, dgsub=f32, L="i32")
        consts = dict(common, BV=min(bv, max(16, triton.next_power_of_2(V))))
    elif kernel == "bwd_wy_t":
        fn = kern.bwd_wy_t_kernel
        sig = dict(k=p, beta=p, gsub=f32, tmat=p, dko=part, dwbuf=p, dtbuf=f32, dbbuf=f32,
                   dlast=f32, dk=p, dbeta=p, dgsub=f32, L="i32")
        consts = {n: c for n, c in common.items() if n != "V"}
    elif kernel in ("fwd_state", "fwd_state_save", "state_rec"):
        fn = kern.fwd_state_kernel
        sig = dict(q=p, k=p, w=p, u=pu, gsub=f32, gtok=f32, h0=f32, o=p, ht=f32, hbuf=p,
                   dbuf=p, T="i32", L="i32", NC="i32", scale="fp32")
        store = kernel != "fwd_state"
        consts = dict(common, BV=min(bv, max(16, triton.next_power_of_2(V))), NH=nh,
                      USE_H0=False, STORE_HT=False, COMPUTE_O=kernel != "state_rec",
                      STORE_H=store, STORE_D=store, HI=hi, EARLY=early, NEST=nest,
                      QKIN=qkin, HOIST=hoist)
        if qkin:
            sig["qkin"] = p
        else:
            consts["qkin"] = None                # no buffer: a constant None, as at launch
        consts["TFUSED"] = tfused
        if tfused:
            sig.update(tmat=p, vin=p, beta=p)
            consts.update(w=None, u=None)
            del sig["w"], sig["u"]
        else:
            consts.update(tmat=None, vin=None, beta=None)
    elif kernel == "bwd_state":
        fn = kern.bwd_state_kernel
        sig = dict(q=p, k=p, w=p, do=p, gsub=f32, gtok=f32, dht=f32, dh0=f32, dvloc=part,
                   dhbuf=p, ddbuf=p, T="i32", L="i32", NC="i32", scale="fp32")
        consts = dict(common, BV=min(bv, max(16, triton.next_power_of_2(V))), NH=nh,
                      USE_DHT=False, STORE_DH0=False, EARLY=early)
    elif kernel == "bwd_o":
        fn = kern.bwd_o_kernel
        sig = dict(q=p, k=p, do=p, hbuf=p, dbuf=p, gtok=f32, dq=p, dko=part, dvloc=part,
                   dgtok=f32, T="i32", L="i32", NC="i32", scale="fp32")
        consts = dict(common, BV=min(bv, max(16, triton.next_power_of_2(V))), NH=nh)
    elif kernel == "wy_loop":
        fn = kern.wy_loop_kernel
        sig = dict(k=p, v=p, beta=p, gsub=f32, w=p, u=pu, tmat=p, scr=f32, L="i32")
        consts = dict(common, BVF=max(16, triton.next_power_of_2(V)), STORE_T=True,
                      BC=min(64, BK), HI=hi, NH=nh, QK=qkin, WU=not tfused, STACK=stack)
        if qkin:
            sig.update(q=p, gtok=f32, qk=p, T="i32")
        else:
            consts.update(q=None, gtok=None, qk=None, T=0)
    else:
        fn = kern.wy_fwd_kernel
        sig = dict(k=p, v=p, beta=p, gsub=f32, w=p, u=pu, tmat=p, scr=f32, L="i32")
        consts = dict(common, BVF=max(16, triton.next_power_of_2(V)), STORE_T=True, INV=1,
                      HI=hi)
    if nc1 and "NC" in sig:
        consts["NC"] = 1
    sig.update({name: "constexpr" for name in consts})
    sig = {name: sig[name] for name in fn.arg_names if name in sig}   # the function's order
    # pointer arguments 16-byte aligned, as the launcher specializes torch's allocations at
    # run time (an unaligned compile splits vector loads: not what the device runs)
    attrs = {(fn.arg_names.index(a),): [["tt.divisibility", 16]]
             for a, t in sig.items()
             if t.startswith("*") or (a in ("L", "T") and t == "i32" and L % 16 == 0)}
    ck = triton.compile(ASTSource(fn, sig, consts, attrs), target=GPUTarget("cuda", 90, 32),
                        options={"num_warps": warps, "num_stages": stages})
    tools = Path(triton.__file__).parent / "backends" / "nvidia" / "bin"
    with tempfile.TemporaryDirectory() as d:
        cubin = Path(d) / "k.cubin"
        cubin.write_bytes(ck.asm["cubin"])
        usage = subprocess.run([str(tools / "cuobjdump"), "--dump-resource-usage", str(cubin)],
                               capture_output=True, text=True).stdout
        sass = subprocess.run([str(tools / "nvdisasm"), "-c", str(cubin)],
                              capture_output=True, text=True).stdout
    counts = sass_counts(sass)

    def field(name: str) -> int | None:
        m = re.search(rf"{name}:(\d+)", usage)
        return int(m.group(1)) if m else None

    return {"kernel": kernel, "dtype": dtype, "K": K, "V": V, "chunk": chunk, "gate": gate,
            "row64": row64, "hi": hi, "nc1": bool(nc1 and "NC" in consts),
            "nh": consts.get("NH", 1), "nest": bool(consts.get("NEST", False)),
            "qkin": bool(consts.get("QKIN", consts.get("QK", False))),
            "tfused": bool(consts.get("TFUSED", not consts.get("WU", True))),
            "hoist": bool(consts.get("HOIST", False)), "inv_stack": bool(consts.get("STACK", False)),
            "block_v": bv, "num_warps": warps, "num_stages": stages, "L": L,
            "registers": field("REG"), "stack_bytes": field("STACK"),
            "shared_bytes": int(ck.metadata.shared),
            "instructions": counts["instructions"], "LDL": counts["LDL"], "STL": counts["STL"],
            **blocks_per_sm(field("REG"), int(ck.metadata.shared), warps),
            "triton": triton.__version__}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    ap.add_argument("--kernel", default="bwd_wy", choices=KERNELS)
    ap.add_argument("--dtype", default="bfloat16", choices=tuple(DTYPES))
    ap.add_argument("--K", type=int, default=128)
    ap.add_argument("--V", type=int, default=None, help="default: K")
    ap.add_argument("--chunk", type=int, default=64, choices=(16, 32, 64))
    ap.add_argument("--gate", action="store_true")
    ap.add_argument("--L", type=int, default=4096,
                    help="sub-steps T * n_h (only its divisibility by 16 reaches the compile, "
                         "as at run time; default 4096, the model rows'; the experiments' "
                         "training shape has 40)")
    ap.add_argument("--lp-bwd", action="store_true",
                    help="the partial dko in the input dtype (the opt-in lp_bwd; default float32)")
    ap.add_argument("--row64", action="store_true",
                    help="the 64-bit-offset variant (rows past chunk.MAX_ROW_ELEMENTS elements)")
    ap.add_argument("--early", action="store_true",
                    help="the state passes with their EARLY load order (the 16-bit default)")
    ap.add_argument("--nc1", action="store_true",
                    help="the sequential passes as specialized for a call of one token chunk "
                         "(NC a constant 1)")
    ap.add_argument("--nh", type=int, default=1,
                    help="Householder factors (the state passes, bwd_o and wy_loop)")
    ap.add_argument("--nest", action="store_true",
                    help="fwd_state / fwd_state_save with a token chunk's sub-chunks unrolled")
    ap.add_argument("--qkin", action="store_true",
                    help="fwd_state / fwd_state_save reading the scores from a buffer; "
                         "wy_loop writing them (session 21's opt-in path)")
    ap.add_argument("--hoist", action="store_true",
                    help="the forward state pass in hoisted form (hoist)")
    ap.add_argument("--inv-stack", action="store_true",
                    help="wy_loop only: the diagonal blocks' substitutions stacked (inv_stack)")
    ap.add_argument("--tfused", action="store_true",
                    help="fwd_state / fwd_state_save forming D from T, V and beta; wy_loop "
                         "writing T alone (the opt-in tfused path)")
    ap.add_argument("--configs", default=DEFAULT_CONFIGS,
                    help="comma-separated BV:WARPS:STAGES (BV ignored by wy_fwd)")
    ap.add_argument("--json", type=Path)
    a = ap.parse_args(argv)
    V = a.V if a.V is not None else a.K
    if not (1 <= a.K <= 256 and 1 <= V <= 256):
        ap.error(f"--K/--V: expected 1..256, got {a.K}/{V}")
    if a.L < 1:
        ap.error(f"--L: expected an int >= 1, got {a.L}")
    if a.nc1 and a.kernel not in ("fwd_state", "fwd_state_save", "state_rec", "bwd_state",
                                  "bwd_o"):
        ap.error(f"--nc1: only the sequential passes take NC (not --kernel {a.kernel})")
    if not 1 <= a.nh <= 8:
        ap.error(f"--nh: expected 1..8, got {a.nh}")
    if a.nh != 1 and a.kernel not in ("fwd_state", "fwd_state_save", "state_rec", "bwd_state",
                                      "bwd_o", "wy_loop"):
        ap.error(f"--nh: only the state passes, bwd_o and wy_loop take it (not --kernel {a.kernel})")
    for flag, on, kernels in (("--nest", a.nest, ("fwd_state", "fwd_state_save")),
                              ("--qkin", a.qkin, ("fwd_state", "fwd_state_save", "wy_loop")),
                              ("--tfused", a.tfused, ("fwd_state", "fwd_state_save", "wy_loop")),
                              ("--inv-stack", a.inv_stack, ("wy_loop",)),
                              ("--hoist", a.hoist, ("fwd_state", "fwd_state_save"))):
        if on and a.kernel not in kernels:
            ap.error(f"{flag}: {' / '.join(kernels)} only (not --kernel {a.kernel})")
    if a.kernel == "wy_loop" and a.chunk != 64:
        ap.error(f"--kernel wy_loop: runs at --chunk 64 only (got {a.chunk})")
    try:
        configs = _parse_configs(a.configs)
    except ValueError as exc:
        ap.error(str(exc))
    if (problem := output_problem(a.json)) is not None:
        ap.error(f"--json: {problem}")
    rows = []
    for bv, warps, stages in configs:
        r = compile_one(a.kernel, a.dtype, a.K, V, a.chunk, bv, warps, stages, a.gate, a.L,
                        a.lp_bwd, a.row64, a.early, a.nc1, a.nh, a.nest, a.qkin, a.tfused,
                        a.inv_stack, a.hoist)
        rows.append(r)
        tags = "".join(t for t, on in ((" row64", a.row64), (" NC=1", a.nc1),
                                       (f" n_h={a.nh}", a.nh != 1), (" nest", a.nest),
                                       (" qkin", a.qkin), (" tfused", a.tfused),
                                       (" inv_stack", a.inv_stack), (" hoist", a.hoist)) if on)
        print(f"{a.kernel}{tags} {a.dtype} K={a.K} V={V} chunk={a.chunk} BV={bv} warps={warps} "
              f"stages={stages}: {r['registers']} registers, {r['stack_bytes']} B stack, "
              f"{r['shared_bytes']} B shared, {r['instructions']} instructions, LDL {r['LDL']}, "
              f"STL {r['STL']}; blocks/SM by registers {r['blocks_by_regs']}, by shared "
              f"{r['blocks_by_shared']}", flush=True)
    if a.json:
        doc = describe(__file__, argv, triton=rows[0]["triton"], target="sm_90",
                       kernel=_FUNCTIONS.get(a.kernel, f"{a.kernel}_kernel"),
                       **({"variant": a.kernel} if a.kernel in _FUNCTIONS else {}),
                       **{"pass": "backward" if a.kernel.startswith("bwd")
                          or a.kernel == "state_rec" else "forward"},
                       shape={"dtype": a.dtype, "K": a.K, "V": V, "chunk": a.chunk,
                              "gate": a.gate, "L": a.L, "lp_bwd": a.lp_bwd,
                              "row64": a.row64, "nc1": a.nc1, "nh": a.nh, "nest": a.nest,
                              "qkin": a.qkin, "tfused": a.tfused})
        doc["rows"] = rows
        write_json(ap, "--json", a.json, doc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
