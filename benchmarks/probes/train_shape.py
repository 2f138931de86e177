"""Probe: the chunked DeltaProduct kernel at the experiments' training shape (issue 10/12).

A training step of the experiments' model (batch 256, length <= 40, 4 heads of 32, float32)
spent 63 % of its device time in ``bwd_wy_kernel`` on the H200 (2.6 ms a call, session 9,
``--profile-steps``), against 0.09 ms for the forward WY kernel. This probe times the kernel's
forward+backward at that shape for launch settings of ``bwd_wy`` (value block, warps,
stages), float32 product precision (``ieee``: FMA; ``tf32``: one tensor-core pass), chunk
size and input dtype, with each kernel's device time from the profiler and the largest
relative error against the float64 reference (so a faster setting is judged with its error).

Each group (dtype, precision, chunk size) runs in its own process (a fault poisons only it).
It needs a CUDA device for timings; ``--device cpu`` runs the kernels through Triton's
interpreter at a tiny shape to check the probe itself (errors against float64, no timings).

    python benchmarks/probes/train_shape.py --json OUT.json --md OUT.md   # every group
    python benchmarks/probes/train_shape.py --group float32,ieee,64       # one group, JSON lines
    python benchmarks/probes/train_shape.py --group bfloat16,ieee,64 --bwd-wy 32:4:2  # one setting
    python benchmarks/probes/train_shape.py --from-json OUT.json          # the table again
    TRITON_INTERPRET=1 python benchmarks/probes/train_shape.py --device cpu \
        --shape 2,20,2,16,1 --groups float32:ieee:16                      # a check on the CPU

A bad option ends in one ``error:`` line naming it (exit status 2).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

#: the repository root, so that the package imports without PYTHONPATH (as the other
#: benchmarks do; a device call that ran the probe from the root without it failed)
ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

WY_CONFIGS = [(32, 8, 2), (32, 4, 2), (32, 4, 1), (32, 2, 2), (16, 4, 2), (16, 2, 1)]
GROUPS = [f"{d},{p},{c}" for d, p in (("float32", "ieee"), ("float32", "tf32"), ("bfloat16", "ieee"))
          for c in (64, 32, 16)]
#: what a group may name: the chunked kernel's input dtypes, ``tl.dot`` input precisions of
#: float32 products and chunk sizes (``statetrack.kernels.delta_product.chunk``)
DTYPES = ("float32", "bfloat16", "float16")
PRECISIONS = ("ieee", "tf32", "tf32x3")
CHUNK_SIZES = (16, 32, 64)


class ProbeArgError(ValueError):
    """A bad option value of the probe (:func:`main` prints it as one ``error:`` line)."""


def parse_shape(spec: str) -> tuple[int, int, int, int, int]:
    """``"B,T,H,D,n_h"``: five positive integers.

    >>> parse_shape("256,40,4,32,1")
    (256, 40, 4, 32, 1)
    >>> try:
    ...     parse_shape("1,2")
    ... except ProbeArgError as e:
    ...     print(e)
    --shape: expected B,T,H,D,n_h (five positive integers), got '1,2'
    """
    try:
        vals = tuple(int(x) for x in spec.split(","))
    except ValueError:
        vals = ()
    if len(vals) != 5 or min(vals) < 1:
        raise ProbeArgError(f"--shape: expected B,T,H,D,n_h (five positive integers), "
                            f"got {spec!r}")
    return vals  # type: ignore[return-value]


def parse_group(spec: str, sep: str = ",", what: str = "--group") -> str:
    """One group ``dtype<sep>precision<sep>chunk`` checked, as ``"dtype,precision,chunk"``.

    >>> parse_group("float32:ieee:16", sep=":")
    'float32,ieee,16'
    >>> try:
    ...     parse_group("float32,ieee,8")
    ... except ProbeArgError as e:
    ...     print(e)
    --group: chunk size '8' of 'float32,ieee,8': expected one of (16, 32, 64)
    """
    parts = spec.split(sep)
    if len(parts) != 3:
        raise ProbeArgError(f"{what}: expected dtype{sep}precision{sep}chunk (e.g. "
                            f"float32{sep}ieee{sep}16), got {spec!r}")
    dtype, prec, cs = parts
    if dtype not in DTYPES:
        raise ProbeArgError(f"{what}: dtype {dtype!r} of {spec!r}: expected one of {DTYPES}")
    if prec not in PRECISIONS:
        raise ProbeArgError(f"{what}: precision {prec!r} of {spec!r}: expected one of "
                            f"{PRECISIONS}")
    if cs not in {str(c) for c in CHUNK_SIZES}:
        raise ProbeArgError(f"{what}: chunk size {cs!r} of {spec!r}: expected one of "
                            f"{CHUNK_SIZES}")
    return f"{dtype},{prec},{cs}"


def parse_groups(spec: str) -> list[str]:
    """``--groups``: comma-separated ``dtype:precision:chunk``, each checked.

    >>> parse_groups("float32:ieee:16,bfloat16:ieee:64")
    ['float32,ieee,16', 'bfloat16,ieee,64']
    """
    return [parse_group(g, sep=":", what="--groups") for g in spec.split(",")]


def parse_bwd_wy(spec: str) -> list[tuple[int, int, int]]:
    """``--bwd-wy``: comma-separated ``BV:warps:stages`` launch settings of ``bwd_wy``.

    >>> parse_bwd_wy("32:4:2,16:2:1")
    [(32, 4, 2), (16, 2, 1)]
    """
    out = []
    for item in spec.split(","):
        try:
            bv, warps, stages = (int(x) for x in item.split(":"))
        except ValueError:
            bv = warps = stages = 0
        if min(bv, warps, stages) < 1:
            raise ProbeArgError(f"--bwd-wy: expected comma-separated BV:warps:stages of "
                                f"positive integers (e.g. 32:4:2), got {spec!r}")
        out.append((bv, warps, stages))
    return out


def load_rows(path: str) -> list[dict]:
    """The rows of an earlier ``--json`` file: a JSON list of objects with a ``"group"``;
    a timed row's ``kernel_ms`` an object and its ``max_rel_err`` a number."""
    try:
        with open(path) as f:
            rows = json.load(f)
    except OSError as e:
        raise ProbeArgError(f"--from-json: cannot read {path!r}: {e.strerror or e}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ProbeArgError(f"--from-json: {path!r} is not JSON: {e}") from None
    if not isinstance(rows, list):
        raise ProbeArgError(f"--from-json: {path!r} must hold a JSON list of the probe's rows "
                            f"(what --json writes), got {type(rows).__name__}")
    for i, r in enumerate(rows):
        if not isinstance(r, dict) or not isinstance(r.get("group"), str):
            raise ProbeArgError(f"--from-json: {path!r}: row {i} is not one of the probe's "
                                f"rows (an object with a 'group')")
        if "kernel_ms" in r and not (
                isinstance(r["kernel_ms"], dict)
                and all(isinstance(v, (int, float)) for v in r["kernel_ms"].values())
                and isinstance(r.get("max_rel_err"), (int, float))):
            raise ProbeArgError(f"--from-json: {path!r}: row {i} has kernel_ms but not as the "
                                f"probe writes it (kernel name -> ms, with max_rel_err)")
    return rows


def run_group(group: str, B: int, T: int, H: int, D: int, NH: int, reps: int,
              device: str = "cuda", configs: list[tuple[int, int, int]] | None = None
              ) -> list[dict]:
    import torch
    from torch.profiler import ProfilerActivity, profile

    from statetrack.kernels.delta_product import chunk
    from statetrack.kernels.delta_product.naive import delta_product_ref

    dtype, prec, cs = group.split(",")
    cs = int(cs)
    g = torch.Generator().manual_seed(0)
    L = T * NH
    q = torch.randn(B, T, H, D, generator=g, dtype=torch.float64)
    k = torch.nn.functional.normalize(torch.randn(B, L, H, D, generator=g, dtype=torch.float64), dim=-1)
    v = torch.randn(B, L, H, D, generator=g, dtype=torch.float64)
    beta = 2 * torch.rand(B, L, H, generator=g, dtype=torch.float64)
    do = torch.randn(B, T, H, D, generator=g, dtype=torch.float64)
    ref = [t.clone().requires_grad_() for t in (q, k, v, beta)]
    o_ref, _ = delta_product_ref(*ref, num_householder=NH)
    o_ref.backward(do)
    want = [o_ref.detach()] + [t.grad for t in ref]
    dev = [t.to(getattr(torch, dtype)).to(device).requires_grad_() for t in (q, k, v, beta)]
    do_d = do.to(getattr(torch, dtype)).to(device)
    rows = []
    for cfg in configs or WY_CONFIGS:
        chunk._CONFIG_OVERRIDE.clear()
        chunk._CONFIG_OVERRIDE.update({"bwd_wy": cfg, "prec": prec})

        def step():
            for t in dev:
                t.grad = None
            o, _ = chunk.chunk_delta_product(*dev, num_householder=NH, chunk_size=cs)
            o.backward(do_d)
            return o

        row = {"group": group, "bwd_wy": list(cfg), "B": B, "T": T, "H": H, "D": D, "NH": NH}
        try:
            o = step()
            got = [o.detach()] + [t.grad for t in dev]
            row["max_rel_err"] = max(float((a.double().cpu() - b).norm() / b.norm())
                                     for a, b in zip(got, want))
            if device != "cuda":      # a check of the probe (interpreter): no timings
                rows.append(row)
                print(json.dumps(row), flush=True)
                continue
            for _ in range(3):
                step()
            torch.cuda.synchronize()
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            for _ in range(reps):
                step()
            end.record()
            torch.cuda.synchronize()
            row["fwd_bwd_ms"] = start.elapsed_time(end) / reps
            with profile(activities=[ProfilerActivity.CUDA]) as prof:
                for _ in range(5):
                    step()
                torch.cuda.synchronize()
            per = {}
            for e in prof.key_averages():
                name = e.key
                if name.endswith("_kernel"):
                    per[name] = round(e.self_device_time_total / 5 / 1000, 4)
            row["kernel_ms"] = per
        except Exception as exc:  # a launch that fails is a result of the probe
            row["error"] = f"{type(exc).__name__}: {exc}"[:300]
        rows.append(row)
        print(json.dumps(row), flush=True)
    return rows


def markdown(rows: list[dict]) -> str:
    """One line per (group, bwd_wy setting): the five kernels' device ms, their sum, the error."""
    names = ("wy_fwd", "fwd_state", "bwd_o", "bwd_state", "bwd_wy")
    out = ["| dtype, precision, chunk | bwd_wy (BV, warps, stages) | " + " | ".join(names)
           + " | kernels sum ms | max rel. error |",
           "|---|---|" + "---|" * (len(names) + 2)]
    for r in rows:
        if "kernel_ms" not in r:
            # an error, or a row of --device cpu: its error against float64, no timing
            what = r.get("error") or (f"{r['max_rel_err']:.1e} (no timing)"
                                      if isinstance(r.get("max_rel_err"), (int, float))
                                      else "no timing")
            out.append(f"| {r['group']} | {tuple(r.get('bwd_wy') or ()) or '—'} | "
                       + " | ".join("—" for _ in names)
                       + f" | — | {str(what)[:60]} |")
            continue
        ms = [r["kernel_ms"].get(n + "_kernel", float("nan")) for n in names]
        out.append(f"| {r['group']} | {tuple(r['bwd_wy'])} | "
                   + " | ".join(f"{m:.3f}" for m in ms)
                   + f" | {sum(ms):.3f} | {r['max_rel_err']:.1e} |")
    return "\n".join(out) + "\n"


def _line(grp: str, row: dict) -> str:
    """One printed line of a row: the timings where there are some, else the error."""
    head = f"{grp:22s} {str(row.get('bwd_wy')):14s}"
    if "error" in row:
        return f"{head} {row['error']}"
    err = f"err {row.get('max_rel_err', float('nan')):.1e}"
    if "fwd_bwd_ms" not in row:
        return f"{head} {err} (no timing off CUDA)"
    wy = row.get("kernel_ms", {}).get("bwd_wy_kernel", float("nan"))
    return f"{head} fwd+bwd {row['fwd_bwd_ms']:7.3f} ms  bwd_wy {wy:7.3f} ms  {err}"


def _write(path: str, text: str, opt: str) -> None:
    try:
        with open(path, "w") as f:
            f.write(text)
    except OSError as e:
        raise ProbeArgError(f"{opt}: cannot write {path!r}: {e.strerror or e}") from None


def _check_out(path: str | None, opt: str) -> None:
    """Refuse an output path that cannot be written before any group runs (a GPU call's
    results would be lost at the end)."""
    if path is None:
        return
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise ProbeArgError(f"{opt}: {path!r} is a folder (expected a file name)")
    if not os.path.isdir(folder):
        raise ProbeArgError(f"{opt}: folder {folder!r} does not exist")
    if not os.access(folder, os.W_OK) or (os.path.exists(path) and not os.access(path, os.W_OK)):
        raise ProbeArgError(f"{opt}: cannot write {path!r} (permission denied)")


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point (module docstring); a bad option exits with status 2 and one
    ``error:`` line."""
    p = argparse.ArgumentParser(prog="train_shape.py", description=__doc__.split("\n")[0])
    p.add_argument("--group", help="dtype,precision,chunk_size (or with ':'): run one group "
                   "in this process (JSON lines on stdout)")
    p.add_argument("--json", help="write every group's rows here")
    p.add_argument("--md", help="write the Markdown table here")
    p.add_argument("--from-json", help="no run: the Markdown table of an earlier --json file "
                   "(printed, or written to --md)")
    p.add_argument("--shape", default="256,40,4,32,1", help="B,T,H,D,n_h (default: the "
                   "experiments' training shape 256,40,4,32,1)")
    p.add_argument("--reps", type=int, default=20, help="timed repetitions a setting")
    p.add_argument("--device", default="cuda", choices=("cuda", "cpu"),
                   help="cuda (timings), or cpu: a check of the probe through Triton's "
                        "interpreter at a tiny --shape (errors only, no timings)")
    p.add_argument("--groups", default=",".join(g.replace(",", ":") for g in GROUPS),
                   help=f"groups to run, as dtype:precision:chunk, comma separated (dtype of "
                        f"{DTYPES}, precision of {PRECISIONS}, chunk of {CHUNK_SIZES}; "
                        f"default: all {len(GROUPS)})")
    p.add_argument("--bwd-wy", help="bwd_wy launch settings to run, as BV:warps:stages, comma "
                   f"separated (default: all {len(WY_CONFIGS)})")
    p.add_argument("--timeout", type=int, default=300, help="seconds a group")
    a = p.parse_args(argv)
    try:
        return _main(a)
    except ProbeArgError as e:
        p.error(str(e))


def _main(a: argparse.Namespace) -> int:
    _check_out(a.md, "--md")
    if a.from_json:
        text = markdown(load_rows(a.from_json))
        if a.md:
            _write(a.md, text, "--md")
        else:
            print(text, end="")
        return 0
    _check_out(a.json, "--json")
    B, T, H, D, NH = parse_shape(a.shape)
    if a.reps < 1:
        raise ProbeArgError(f"--reps: expected an int >= 1, got {a.reps}")
    if a.timeout < 1:
        raise ProbeArgError(f"--timeout: expected seconds >= 1, got {a.timeout}")
    configs = parse_bwd_wy(a.bwd_wy) if a.bwd_wy else None
    groups = ([parse_group(a.group, sep=":" if ":" in a.group else ",")] if a.group
              else parse_groups(a.groups))
    if a.device == "cuda":
        import torch

        if not torch.cuda.is_available():
            raise ProbeArgError("--device: no CUDA device here (the timings need one; "
                                "--device cpu checks the probe through Triton's interpreter "
                                "at a tiny --shape)")
    if a.device == "cpu" and B * T * H * D > 2 * 40 * 4 * 32 and not a.group:
        print(f"note: --device cpu runs the kernels through Triton's interpreter: at --shape "
              f"{a.shape} a group may take minutes (a check: --shape 2,20,2,16,1)",
              file=sys.stderr)
    if a.group:
        run_group(groups[0], B, T, H, D, NH, a.reps, a.device, configs)
        return 0
    rows = []
    for grp in groups:
        cmd = [sys.executable, __file__, "--group", grp, "--shape", a.shape, "--reps",
               str(a.reps), "--device", a.device] + (["--bwd-wy", a.bwd_wy] if a.bwd_wy else [])
        try:
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=a.timeout)
            out, err, rc = r.stdout, r.stderr, r.returncode
        except subprocess.TimeoutExpired as exc:
            def text(b: bytes | str | None) -> str:
                return b.decode(errors="replace") if isinstance(b, bytes) else (b or "")
            out, err, rc = text(exc.stdout), f"timed out after {a.timeout} s (--timeout)", -1
        got = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
        if rc and len(got) < len(configs or WY_CONFIGS):
            got.append({"group": grp, "error": f"exit {rc}: {err.strip()[-400:]}"})
        for row in got:
            print(_line(grp, row), flush=True)
        rows += got
    if a.json:
        _write(a.json, json.dumps(rows, indent=1) + "\n", "--json")
    if a.md:
        _write(a.md, markdown(rows), "--md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
