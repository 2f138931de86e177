"""Probe: the chunked DeltaProduct kernel at the experiments' training shape (issue 10/12).

A training step of the experiments' model (batch 256, length <= 40, 4 heads of 32, float32)
spent 63 % of its device time in ``bwd_wy_kernel`` on the H200 (2.6 ms a call, session 9,
``--profile-steps``), against 0.09 ms for the forward WY kernel. This probe times the kernel's
forward+backward at that shape for launch settings of ``bwd_wy`` (value block, warps,
stages), float32 product precision (``ieee``: FMA; ``tf32``: one tensor-core pass), chunk
size and input dtype, with each kernel's device time from the profiler and the largest
relative error against the float64 reference (so a faster setting is judged with its error).

Each group (dtype, precision, chunk size) runs in its own process (a fault poisons only it).

    python benchmarks/probes/train_shape.py --json OUT.json      # every group
    python benchmarks/probes/train_shape.py --group float32,ieee,64 # one group, JSON lines
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

WY_CONFIGS = [(32, 8, 2), (32, 4, 2), (32, 4, 1), (32, 2, 2), (16, 4, 2), (16, 2, 1)]
GROUPS = [f"{d},{p},{c}" for d, p in (("float32", "ieee"), ("float32", "tf32"), ("bfloat16", "ieee"))
          for c in (64, 32, 16)]


def run_group(group: str, B: int, T: int, H: int, D: int, NH: int, reps: int,
              device: str = "cuda") -> list[dict]:
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
    for cfg in WY_CONFIGS:
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
            out.append(f"| {r['group']} | {tuple(r.get('bwd_wy', ())) or '—'} | "
                       + " | ".join("—" for _ in names)
                       + f" | — | {r.get('error', 'no timing')[:60]} |")
            continue
        ms = [r["kernel_ms"].get(n + "_kernel", float("nan")) for n in names]
        out.append(f"| {r['group']} | {tuple(r['bwd_wy'])} | "
                   + " | ".join(f"{m:.3f}" for m in ms)
                   + f" | {sum(ms):.3f} | {r['max_rel_err']:.1e} |")
    return "\n".join(out) + "\n"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--group", help="dtype,precision,chunk_size: run one group in this process")
    p.add_argument("--json", help="write every group's rows here")
    p.add_argument("--md", help="write the Markdown table here")
    p.add_argument("--from-json", help="no run: the Markdown table of an earlier --json file")
    p.add_argument("--shape", default="256,40,4,32,1", help="B,T,H,D,n_h")
    p.add_argument("--reps", type=int, default=20)
    p.add_argument("--device", default="cuda", help="cpu: a check through TRITON_INTERPRET=1")
    p.add_argument("--groups", default=",".join(g.replace(",", ":") for g in GROUPS),
                   help="groups to run, as dtype:precision:chunk, comma separated")
    a = p.parse_args()
    if a.from_json:
        text = markdown(json.load(open(a.from_json)))
        if a.md:
            open(a.md, "w").write(text)
        else:
            print(text, end="")
        return 0
    B, T, H, D, NH = (int(x) for x in a.shape.split(","))
    if a.group:
        run_group(a.group, B, T, H, D, NH, a.reps, a.device)
        return 0
    rows = []
    for grp in a.groups.split(","):
        grp = grp.replace(":", ",")
        r = subprocess.run([sys.executable, __file__, "--group", grp, "--shape", a.shape,
                            "--reps", str(a.reps), "--device", a.device], capture_output=True, text=True, timeout=300)
        got = [json.loads(line) for line in r.stdout.splitlines() if line.startswith("{")]
        if r.returncode and len(got) < len(WY_CONFIGS):
            got.append({"group": grp, "error": f"exit {r.returncode}: {r.stderr[-400:]}"})
        for row in got:
            wy = row.get("kernel_ms", {}).get("bwd_wy_kernel")
            print(f"{grp:22s} {str(row.get('bwd_wy')):14s} fwd+bwd {row.get('fwd_bwd_ms', float('nan')):7.3f} ms"
                  f"  bwd_wy {wy if wy is not None else float('nan'):7.3f} ms"
                  f"  err {row.get('max_rel_err', float('nan')):.1e} {row.get('error', '')}", flush=True)
        rows += got
    if a.json:
        with open(a.json, "w") as f:
            json.dump(rows, f, indent=1)
    if a.md:
        open(a.md, "w").write(markdown(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
