"""Name the chunked kernel that faults (issue 12): every Triton launch of one forward+backward
call is followed by a device synchronisation and one line naming the kernel and its
compile-time arguments, so that an illegal memory access stops the trace at its kernel.
Each case runs in its own process (a fault poisons the process's CUDA context); the parent
prints one line a case: ``OK`` with the largest relative error against the float64 reference,
or ``FAULT in <kernel> <its constexprs>``.

Session 19 found an illegal access at K = 128, V = 16 (bf16, gated, initial state, chunk 64,
200 tokens; now ``test_narrow_values_and_one_chunk_calls_gpu``). The default case list varies
one thing at a time around it::

    python benchmarks/probes/launch_trace.py --out results.txt       # every case
    python benchmarks/probes/launch_trace.py --case 128,16,bfloat16,g,h0,200 \\
        --override '{"wy_loop": false}'                               # one case, in a child
    python benchmarks/probes/launch_trace.py --device cpu --cases 2   # a check (interpreter)

A case is ``K,V,dtype,gate,h0,T`` (gate ``g`` or ``-``, initial state ``h0`` or ``-``), an
override a JSON object of ``chunk._CONFIG_OVERRIDE`` entries (lists for the launch triples).
A launch line names the Python function, so an unspecialized ``_ns`` compile prints as its
specialized peer (``fwd_state_kernel``); ``T``, ``L`` and ``NC`` are not printed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

#: (case, override) pairs: session 19's fault (K = 128, V = 16, 200 tokens: bwd_wy_kernel at
#: 8 warps, session 20), the one-chunk fault (64 tokens: fwd_state_kernel), then the shapes
#: around them, with the fixes of session 20 on (the defaults) and forced off
CASES: list[tuple[str, dict]] = [
    ("128,16,bfloat16,g,h0,200", {}),
    ("128,16,bfloat16,g,h0,64", {}),
    ("128,16,bfloat16,g,h0,1", {}),
    ("128,16,bfloat16,-,-,40", {}),
    ("128,16,float16,g,h0,64", {}),
    ("128,32,bfloat16,g,h0,64", {}),
    ("128,128,bfloat16,g,h0,64", {}),
    ("128,128,bfloat16,-,-,40", {}),
    ("64,16,bfloat16,g,h0,64", {}),
    ("32,16,bfloat16,g,h0,64", {}),
    ("128,16,float32,g,h0,64", {}),
    ("128,16,bfloat16,g,h0,64", {"nospec": False}),
    ("128,128,bfloat16,g,h0,64", {"nospec": False}),
    ("128,32,bfloat16,g,h0,64", {"nospec": False}),
    ("128,16,bfloat16,g,h0,200", {"nospec": True}),
    # two token chunks with T and L divisible by 16, through the specialized passes (forced:
    # the default now runs the unspecialized ones at V <= 16): tells the 64-token fault's
    # cause, NC = 1 or the divisibility, apart
    ("128,16,bfloat16,g,h0,128", {"nospec": False}),
    ("128,16,bfloat16,g,h0,128", {}),
]

_DTYPES = ("bfloat16", "float16", "float32")


def parse_case(case: str) -> tuple[int, int, str, bool, bool, int]:
    """``K,V,dtype,gate,h0,T`` as ``(K, V, dtype, gate, h0, T)``; ``ValueError`` naming
    what is wrong.

    >>> parse_case("128,16,bfloat16,g,-,200")
    (128, 16, 'bfloat16', True, False, 200)
    """
    parts = case.split(",")
    if len(parts) != 6:
        raise ValueError(f"expected K,V,dtype,gate,h0,T (six fields), got {case!r}")
    K, V, dtype, gate, h0, T = parts
    try:
        K, V, T = int(K), int(V), int(T)
    except ValueError:
        raise ValueError(f"K, V and T must be ints, got {case!r}") from None
    if not (1 <= K <= 256 and 1 <= V <= 256 and T >= 1):
        raise ValueError(f"expected 1 <= K, V <= 256 and T >= 1, got {case!r}")
    if dtype not in _DTYPES:
        raise ValueError(f"dtype must be one of {_DTYPES}, got {dtype!r}")
    if gate not in ("g", "-") or h0 not in ("h0", "-"):
        raise ValueError(f"gate must be 'g' or '-' and h0 'h0' or '-', got {gate!r}, {h0!r}")
    return K, V, dtype, gate == "g", h0 == "h0", T


_SKIP = {"K", "V", "H", "BK", "BT", "MM", "PREC", "EMU"}


def _trace_launches() -> None:
    """Wrap ``JITFunction.run``: print the kernel and its constexprs, run, synchronise."""
    import torch
    from triton.runtime.interpreter import InterpretedFunction
    from triton.runtime.jit import JITFunction

    def traced(real):
        def run(self, *args, grid, warmup=False, **kwargs):
            consts = {k: v for k, v in kwargs.items() if k not in _SKIP
                      and isinstance(v, (bool, int, str)) and not k.startswith("_")}
            print(f"launch {self.fn.__name__} {consts}", flush=True)
            out = real(self, *args, grid=grid, warmup=warmup, **kwargs)
            if torch.cuda.is_available() and not warmup:
                torch.cuda.synchronize()
            return out
        return run

    JITFunction.run = traced(JITFunction.run)
    InterpretedFunction.run = traced(InterpretedFunction.run)


def one(case: str, override: dict, device: str) -> str:
    import torch

    from statetrack.kernels.delta_product import chunk
    from statetrack.kernels.delta_product.naive import delta_product_ref

    K, V, dtype, gate, h0, T = parse_case(case)
    dt = getattr(torch, dtype)
    _trace_launches()
    chunk._CONFIG_OVERRIDE.clear()
    chunk._CONFIG_OVERRIDE.update({k: tuple(v) if isinstance(v, list) else v
                                   for k, v in override.items()})
    gen = torch.Generator().manual_seed(0)
    B, H = 1, 1
    x = {"q": torch.randn(B, T, H, K, generator=gen) / K ** 0.5,
         "k": torch.nn.functional.normalize(torch.randn(B, T, H, K, generator=gen), dim=-1),
         "v": torch.randn(B, T, H, V, generator=gen),
         "beta": 2 * torch.rand(B, T, H, generator=gen)}
    if gate:
        x["g"] = -torch.rand(B, T, H, generator=gen)
    if h0:
        x["h0"] = torch.randn(B, H, K, V, generator=gen)
    do = torch.randn(B, T, H, V, generator=gen, dtype=torch.float64)
    low = {n: t.to(dt if n not in ("g", "h0") else torch.float32) for n, t in x.items()}
    ours = {n: t.to(device).requires_grad_() for n, t in low.items()}
    ref = {n: t.double().requires_grad_() for n, t in low.items()}
    o, _ = chunk.chunk_delta_product(ours["q"], ours["k"], ours["v"], ours["beta"],
                                     g=ours.get("g"), initial_state=ours.get("h0"), chunk_size=64)
    got = torch.autograd.grad((o.double() * do.to(device)).sum(), list(ours.values()))
    if device == "cuda":
        torch.cuda.synchronize()
    o_ref, _ = delta_product_ref(ref["q"], ref["k"], ref["v"], ref["beta"], g=ref.get("g"),
                                 initial_state=ref.get("h0"))
    want = torch.autograd.grad((o_ref * do).sum(), list(ref.values()))
    o_ref = o_ref.detach()
    errs = {"o": float((o.detach().cpu().double() - o_ref).norm() / o_ref.norm())}
    for n, a, b in zip(ours, got, want):
        errs["d" + n] = float((a.cpu().double() - b).norm() / b.norm().clamp_min(1e-30))
    worst = max(errs, key=errs.get)
    return f"OK, max relative error {errs[worst]:.2e} ({worst})"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--case", help="K,V,dtype,gate,h0,T: run this one case in a child process")
    p.add_argument("--override", default="{}", help="JSON object of _CONFIG_OVERRIDE entries")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--device", default="cuda", choices=("cuda", "cpu"),
                   help="cpu: through TRITON_INTERPRET=1 (a check of the probe)")
    p.add_argument("--cases", type=int, default=len(CASES), help="run the first N default cases")
    p.add_argument("--sanitizer", action="store_true",
                   help="run each child under compute-sanitizer (memcheck; on PATH or in "
                        "/usr/local/cuda/bin, else an error)")
    p.add_argument("--timeout", type=float, default=180, help="seconds a case")
    p.add_argument("--out", help="also write the lines (and each fault's last trace) here")
    a = p.parse_args()
    try:
        override = json.loads(a.override)
    except json.JSONDecodeError as e:
        p.error(f"--override is not JSON: {e}")
    if not isinstance(override, dict):
        p.error("--override must be a JSON object")
    if a.case is not None:
        try:
            parse_case(a.case)
        except ValueError as e:
            p.error(f"--case: {e}")
    elif a.child:
        p.error("--child needs --case")
    if not 1 <= a.cases <= len(CASES):
        p.error(f"--cases: expected 1..{len(CASES)}, got {a.cases}")
    sanitizer = None
    if a.sanitizer:
        sanitizer = shutil.which("compute-sanitizer") or shutil.which(
            "compute-sanitizer", path="/usr/local/cuda/bin")
        if sanitizer is None:
            p.error("--sanitizer: compute-sanitizer is neither on PATH nor in /usr/local/cuda/bin")
    if a.child:
        print(one(a.case, override, a.device), flush=True)
        return 0
    env = dict(os.environ)
    if a.device == "cpu":
        env["TRITON_INTERPRET"] = "1"
    todo = [(a.case, override)] if a.case else CASES[:a.cases]
    lines = []
    for case, ov in todo:
        cmd = [sys.executable, __file__, "--child", "--case", case, "--override", json.dumps(ov),
               "--device", a.device]
        if sanitizer:
            cmd = [sanitizer, "--tool", "memcheck", "--print-limit", "3"] + cmd
        try:
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=a.timeout, env=env)
            res = r.stdout.strip().splitlines()
            out = res + r.stderr.strip().splitlines()
            rc = r.returncode
        except subprocess.TimeoutExpired as e:
            raw = e.stdout or b""     # bytes from run()'s timeout, even with text=True
            out = (raw.decode(errors="replace") if isinstance(raw, bytes) else raw).splitlines()
            out, res, rc = out + [f"timed out after {a.timeout:.0f} s"], [], -1
        last = [ln for ln in out if ln.startswith("launch ")]
        if rc == 0 and res and res[-1].startswith("OK"):
            line = f"{case} {ov}: {res[-1]}"
        else:
            where = last[-1][len("launch "):] if last else "before the first launch"
            line = f"{case} {ov}: FAULT in {where}"
            errs = [ln for ln in out if "rror" in ln or "Invalid" in ln or "=====" in ln]
            line += "\n    " + "\n    ".join((errs or out)[-8:])
        print(line, flush=True)
        lines.append(line if rc == 0 else line + "\n    --- the child's output:\n    "
                     + "\n    ".join(ln for ln in out[-80:] if "Host Frame" not in ln))
    if a.out:
        Path(a.out).write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
