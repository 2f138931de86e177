"""One very long word through the tabled path (issue 12): ``B = 1``, ``T = 10^9`` symbols by
default, ids and codes at one byte a symbol, checked against the DFA on the host.

For each language (a one-layer construction: parity, the faithful S_5, a cyclic group, ...):

1. ids drawn on the host (numpy, seeded), copied to the device as uint8 ``[1, T]``;
2. ``run_tabled(..., output="code", code_out=<uint8 [1, T, 1]>)``: the chunked evaluation
   (parallel over time: one word gives no other parallelism), the code read through the
   construction's code table;
3. the codes copied back, and the DFA run on the host (a numba loop) over the same ids:
   every position whose code names another state than the DFA's is counted wrong;
4. symbols a second (one timed call after a warm-up on a short prefix), bytes of device
   memory a symbol (peak allocated / T), and the memory floor (2 bytes a symbol: read an id,
   write a code) over the copy bandwidth measured in the same run.

Multi-layer stacks (Theorem 4's cascades) run layer by layer: the next layer's one-byte
tokens come from the token map of the symbol and the layer below's code (the stack model's
rule), so the device holds three bytes a symbol (ids, tokens, codes) plus the chunk summaries.

    python benchmarks/long_word.py                      # 10^9 symbols, on CUDA
    python benchmarks/long_word.py --T 100000000 --languages "parity;cyclic(7)"
    python benchmarks/long_word.py --smoke              # CPU, interpreter, T = 256, chunk 64
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import statetrack.kernels._common.triton  # noqa: E402,F401  (interpreter on CPU-only machines)

import numba  # noqa: E402
import torch  # noqa: E402

from benchmarks._machine import check_outputs, git_commit  # noqa: E402

DEFAULT_LANGUAGES = ("parity;cyclic(7);symmetric(5):faithful;dihedral(8);flip_flop_language;"
                     "contains(abb)")


@numba.njit(cache=True)
def _count_wrong(delta, start, ids, codes, state_of_code):  # pragma: no cover (numba)
    """Positions (after each symbol) where the code's state differs from the DFA's, and the
    first such position (-1: none)."""
    s = start
    wrong = 0
    first = -1
    for t in range(ids.shape[0]):
        s = delta[s, ids[t]]
        if state_of_code[codes[t]] != s:
            wrong += 1
            if first < 0:
                first = t
    return wrong, first


def _copy_bandwidth(device: torch.device, nbytes: int = 1 << 30) -> float:
    """Read + write bytes a second of a device-to-device copy (the floor's yardstick)."""
    if device.type != "cuda":
        return float("nan")
    a = torch.empty(nbytes, dtype=torch.uint8, device=device)
    b = torch.empty_like(a)
    b.copy_(a)
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(5):
        b.copy_(a)
    torch.cuda.synchronize()
    return 2 * nbytes * 5 / (time.perf_counter() - t0)


def _layer_call(layer, device: torch.device, chunk_size: int | None):
    """The tables and ``run_tabled`` options of one constructed layer (code table read),
    or the reason it cannot run with one-byte ids and codes."""
    from statetrack.constructions.export import symbol_tables
    from statetrack.kernels.runner import tabled_code_call

    tb = symbol_tables(layer, dtype="bfloat16", backend="torch")
    S, C = tb["key_table"].shape[0], len(tb["codes"])
    if S > 256 or C > 256:
        return None, f"not run: a layer with {S} symbols and {C} codes (one byte each: <= 256)"
    tables, kw = tabled_code_call(tb, device, torch.bfloat16)
    return (tables, {**kw, "chunk_size": chunk_size}), None


def _next_tokens(tm: torch.Tensor, ids: torch.Tensor, codes: torch.Tensor, out: torch.Tensor,
                 block: int = 1 << 26) -> None:
    """``out[t] = tm[ids[t], codes[t]]`` (the next layer's tokens; :func:`run_stack`'s rule),
    in blocks so that the int64 indices stay small."""
    for a in range(0, ids.numel(), block):
        b = min(ids.numel(), a + block)
        out[a:b] = tm[ids[a:b].long(), codes[a:b].long()].to(torch.uint8)


def run_language(spec: str, T: int, device: torch.device, seed: int = 0,
                 chunk_size: int | None = None) -> dict:
    """One language: the run (every layer of its stack), the check and the numbers (see the
    module docstring)."""
    from statetrack.automata.families import get
    from statetrack.constructions import compile
    from statetrack.constructions.stack import token_map_arrays
    from statetrack.kernels.tabled import run_tabled

    name, _, form = spec.partition(":")
    dfa = get(name)
    lrnn = compile(dfa, form=form or None)
    layers = lrnn.layers
    row: dict = {"language": spec, "T": T, "layers": len(layers),
                 "K": "/".join(str(l.width) for l in layers),
                 "V": "/".join(str(l.value_dim) for l in layers),
                 "n_h": "/".join(str(l.n_h) for l in layers)}
    if lrnn.state_map is None:
        row["status"] = "not run: no state map (the top codes do not name DFA states)"
        return row
    calls = []
    for layer in layers:
        call, why = _layer_call(layer, device, chunk_size)
        if call is None:
            row["status"] = why
            return row
        calls.append(call)
    S0 = calls[0][0][0].shape[0]
    tms = [None if m is None else torch.as_tensor(m, device=device)
           for m in token_map_arrays(layers)]

    rng = np.random.default_rng(seed)
    ids_host = rng.integers(0, S0, size=T, dtype=np.uint8)
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats(device)
    base = torch.cuda.memory_allocated(device) if device.type == "cuda" else 0
    ids = torch.from_numpy(ids_host).to(device)[None]
    tok = ids if len(layers) == 1 else torch.empty_like(ids)
    out = torch.empty(1, T, 1, dtype=torch.uint8, device=device)

    def stack(n: int) -> list:
        """Every layer over the first ``n`` symbols; the top codes land in ``out``."""
        results = []
        for li, ((kt, bt, vt), kw) in enumerate(calls):
            cur = ids if li == 0 else tok
            results.append(run_tabled(cur[:, :n], kt, bt, vt, code_out=out[:, :n], **kw))
            if li + 1 < len(calls):
                _next_tokens(tms[li + 1], ids[0, :n], out[0, :n, 0], tok[0, :n])
        return results

    warm = min(T, 1 << 16)                                   # compile the kernels first
    for r in stack(warm):
        r.check()
    if device.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    results = stack(T)
    if device.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - t0
    for r in results:
        r.check()                                            # ids in range, no table miss
    peak = (torch.cuda.max_memory_allocated(device) - base) if device.type == "cuda" else None
    codes_host = out[0, :, 0].cpu().numpy()
    delta = np.asarray(dfa.transitions, dtype=np.int64)
    state_of_code = np.asarray(lrnn.state_map, dtype=np.int64)
    t1 = time.perf_counter()
    wrong, first = _count_wrong(delta, int(dfa.start), ids_host, codes_host, state_of_code)
    row.update(status="run", chunk_size=results[0].chunk_size, seconds=seconds,
               symbols_per_second=T / seconds, wrong=int(wrong), first_wrong=int(first),
               check_seconds=time.perf_counter() - t1,
               device_bytes_per_symbol=None if peak is None else peak / T)
    return row


def _write(json_path: Path | None, md_path: Path | None, env: dict, rows: list[dict], T: int,
           bw: float) -> str:
    """Write the JSON and Markdown of the rows so far; return the Markdown."""
    if json_path:
        json_path.write_text(json.dumps({"environment": env, "rows": rows}, indent=1) + "\n")
    lines = [f"Device: {env['device']}; torch {env['torch']}; copy bandwidth "
             f"{bw / 1e12:.2f} TB/s; T = {T:,}", "",
             "| language | K | V | n_h | chunk | seconds | symbols/s | floor % | device B/symbol "
             "| wrong |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        if r["status"] != "run":
            lines.append(f"| {r['language']} | {r.get('K', '')} | {r.get('V', '')} | "
                         f"{r.get('n_h', '')} | — | {r['status']} | | | | |")
            continue
        fl = r.get("floor_fraction")
        bps = r["device_bytes_per_symbol"]
        lines.append(f"| {r['language']} | {r['K']} | {r['V']} | {r['n_h']} | "
                     f"{r['chunk_size']} | {r['seconds']:.3f} | {r['symbols_per_second']:.3g} | "
                     f"{'' if fl is None else f'{100 * fl:.1f}'} | "
                     f"{'' if bps is None else f'{bps:.2f}'} | {r['wrong']} |")
    md = "\n".join(lines) + "\n"
    if md_path:
        md_path.write_text(md)
    return md


def language_problem(languages: str) -> str | None:
    """Why ``--languages`` cannot run (a spec ``families.get`` refuses, a form ``compile``
    does not know, no language at all), or None; checked before the first language runs.

    Examples
    --------
    >>> language_problem("parity;symmetric(5):faithful") is None
    True
    >>> print(language_problem("parity;cyclic(7):twisted").split(";")[0])
    'cyclic(7):twisted': unknown form 'twisted'
    """
    from statetrack.automata.errors import AutomatonError
    from statetrack.automata.families import get
    from statetrack.constructions.compile import FORMS

    specs = [s.strip() for s in languages.split(";") if s.strip()]
    if not specs:
        return f"no language in {languages!r}"
    for spec in specs:
        name, _, form = spec.partition(":")
        try:
            get(name)
        except AutomatonError as exc:
            return f"{spec!r}: {str(exc).splitlines()[0]}"
        if form and form not in (*FORMS, "auto"):
            return f"{spec!r}: unknown form {form!r}; choose one of {[*FORMS, 'auto']}"
    return None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--T", type=int, default=10**9)
    ap.add_argument("--languages", default=DEFAULT_LANGUAGES,
                    help="';'-separated catalogue specs, ':form' for compile's form")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--chunk", type=int, help="tokens a chunk (default: run_tabled's choice)")
    ap.add_argument("--smoke", action="store_true",
                    help="CPU (Triton interpreter): T = 256, chunks of 64, parity, S_5 and "
                         "the flip-flop cascade")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--md", type=Path)
    a = ap.parse_args(argv)
    if a.T < 1:
        ap.error(f"--T: expected a positive length, got {a.T}")
    if a.chunk is not None and a.chunk < 1:
        ap.error(f"--chunk: expected tokens a chunk >= 1, got {a.chunk}")
    if (problem := language_problem(a.languages)) is not None:
        ap.error(f"--languages: {problem}")
    # before the first language (at T = 10^9 a run of seconds; were tracebacks at its end)
    check_outputs(ap, {"--json": a.json, "--md": a.md})
    chunk = a.chunk
    if a.smoke:
        device, T = torch.device("cpu"), min(a.T, 256)
        chunk = chunk or 64
        if a.languages == DEFAULT_LANGUAGES:
            a.languages = "parity;symmetric(5):faithful;flip_flop_language"
    else:
        if not torch.cuda.is_available():
            ap.error("no CUDA device (use --smoke for a CPU check)")
        device, T = torch.device("cuda"), a.T
    bw = _copy_bandwidth(device)
    env = {"device": torch.cuda.get_device_name(0) if device.type == "cuda" else "cpu",
           "torch": torch.__version__, "commit": git_commit(), "copy_bandwidth": bw,
           "command": " ".join(["python", "benchmarks/long_word.py", *(argv or sys.argv[1:])])}
    rows: list[dict] = []
    for spec in filter(None, (s.strip() for s in a.languages.split(";"))):
        row = run_language(spec, T, device, a.seed, chunk)
        if row.get("status") == "run" and bw == bw:
            row["floor_seconds"] = 2 * T / bw
            row["floor_fraction"] = row["floor_seconds"] / row["seconds"]
        print(json.dumps(row), flush=True)
        rows.append(row)
        # written after every language: a run stopped by a time limit keeps what finished
        md = _write(a.json, a.md, env, rows, T, bw)
    print(md if rows else "no language run")
    return 0 if all(r.get("wrong", 0) == 0 for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
