"""``statetrack check``: every check on the built-in catalogue of languages.

Runs :func:`statetrack.automata.families.catalogue` (or the entries named by ``--only``)
through the monoid classification and the registry of theorems (:mod:`statetrack.theory.
registry`), prints one row per language and a legend, and exits 1 if any check fails.
``--json FILE`` writes the same rows as JSON; ``--device`` also runs every language with a
construction through the kernels (:mod:`statetrack.cli.device`).
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import sys
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Sequence

from ._args import (cli_text, monoid_limit_for, nonnegative_int, output_file_problem,
                    positive_int, size_note)

__all__ = ["add_parser", "run", "Row", "LEGEND", "DESCRIPTION"]

#: ``statetrack check --help``'s description.
DESCRIPTION = (
    "Checks every language of the built-in catalogue (or those named by --only), one row "
    "per language: its minimal DFA, its transition monoid (size and class), and the theorem "
    "checks: every step of the construction is a generalized Householder factor with "
    "eigenvalue in [-1, 1] (Prop. 1), the eigenvalues the language needs (Theorems 1 and 2), "
    "the construction (Theorem 3 for groups, Theorem 4's cascade stack for the others), its "
    "exact proof, and a bfloat16 run, with a legend of the columns. --device also runs every construction through the kernels on "
    "random words and counts mismatches with the DFA; --json FILE writes the rows as JSON. "
    "A progress bar goes to stderr when it is a terminal (not with --quiet or --json).")


@dataclass
class Row:
    """One line of ``statetrack check``: a catalogue language and what was checked on it."""

    name: str
    alphabet: list[str]
    states: int | None = None
    monoid_size: int | None = None
    monoid_class: str | None = None
    columns: dict[str, Any] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.failures


def _check_language(name: str, dfa, *, monoid_limit: int, theory: bool) -> Row:
    from ..automata.errors import MonoidLimitError
    from ..automata.monoid import classify

    t0 = time.perf_counter()
    row = Row(name=name, alphabet=list(dfa.alphabet), states=dfa.n_states)
    if not dfa.is_minimal():
        row.failures.append(
            f"catalogue DFA is not minimal ({dfa.n_states} states, minimal has "
            f"{dfa.minimize().n_states})"
        )
    monoid_limit = monoid_limit_for(dfa.n_states, monoid_limit)  # memory: elements x |Q|
    try:
        cls = classify(dfa, limit=monoid_limit)
        row.monoid_size = cls.size
        row.monoid_class = cls.kind
        row.columns["monoid"] = cls.short()
    except MonoidLimitError:
        row.columns["monoid"] = f"> {monoid_limit} (skipped)"
    except Exception as e:  # noqa: BLE001 -- reported as a failed check, not a crash
        row.failures.append(f"monoid: {type(e).__name__}: {e}")
    if theory:
        _theory_columns(dfa, row, monoid_limit)
    row.seconds = time.perf_counter() - t0
    return row


def _theory_columns(dfa, row: Row, monoid_limit: int) -> None:
    """Columns from the registry of theorems, when that package provides them; T1 and T2
    enumerate at most ``min(monoid_limit, MONOID_LIMIT)`` monoid elements (``monoid_limit``
    already lowered for memory by :func:`monoid_limit_for`)."""
    try:
        from ..theory.registry import MONOID_LIMIT, run_all
    except ImportError:
        return
    limit = min(monoid_limit, MONOID_LIMIT)
    for result in run_all(dfa, monoid_limit=None if limit == MONOID_LIMIT else limit):
        row.columns[result.column] = result.summary
        if result.failed:
            row.failures.append(f"{result.name}: {result.detail}")


LEGEND = {
    "language": "catalogue entry (a family spec: statetrack compile accepts it)",
    "alphabet": "the input symbols",
    "states": "states of the minimal complete DFA",
    "monoid": "transition monoid: class(size); class is trivial, group, aperiodic, "
              "permutation-reset or general",
}


def _legend(rows: list[Row]) -> str:
    legend = dict(LEGEND)
    try:
        from ..theory.registry import COLUMN_LEGEND
    except ImportError:
        COLUMN_LEGEND = {}
    used = {k for r in rows for k in r.columns}
    legend.update({k: v for k, v in COLUMN_LEGEND.items() if k in used})
    width = max(len(k) for k in legend)
    return "\n".join(f"  {k.ljust(width)}  {v}" for k, v in legend.items())


def _format_table(rows: list[Row]) -> str:
    extra = []
    for r in rows:
        for k in r.columns:
            if k not in extra and k != "monoid":
                extra.append(k)
    header = ["language", "alphabet", "states", "monoid", *extra, "ok"]
    body = []
    for r in rows:
        alpha = "".join(r.alphabet) if all(len(s) == 1 for s in r.alphabet) else " ".join(r.alphabet)
        if len(alpha) > 18:
            alpha = alpha[:15] + "..."
        body.append([r.name, alpha, str(r.states), str(r.columns.get("monoid", "-")),
                     *[str(r.columns.get(k, "-")) for k in extra],
                     "yes" if r.ok else "FAIL"])
    widths = [max(len(h), *(len(b[i]) for b in body)) if body else len(h)
              for i, h in enumerate(header)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths)),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(c.ljust(w) for c, w in zip(b, widths)) for b in body]
    return "\n".join(lines)


#: the options of the --device run, with their defaults (None: chosen by the device); given
#: without --device they would do nothing, which is an error
_DEVICE_OPTIONS = {"length": None, "batch": None, "kernel": "auto", "seed": 0, "form": "auto"}


def run(args: argparse.Namespace) -> int:
    """Run ``statetrack check``; returns the exit status (0 ok, 1 a failed check, 2 bad input)."""
    from tqdm import tqdm

    from ..automata.families import catalogue

    problem = args.json and output_file_problem("--json", args.json, "check.json")
    if problem:
        print(f"statetrack check: error: {problem}", file=sys.stderr)
        return 2
    device_only = [f"--{name}" for name in _DEVICE_OPTIONS if getattr(args, name) is not None]
    if device_only and not args.device:
        print(f"statetrack check: error: {', '.join(device_only)} only "
              f"appl{'ies' if len(device_only) == 1 else 'y'} with --device", file=sys.stderr)
        return 2
    for name, default in _DEVICE_OPTIONS.items():
        if getattr(args, name) is None and default is not None:
            setattr(args, name, default)
    if args.device:
        # before the theory table, which takes seconds: a missing GPU is bad input (exit 2)
        from ..kernels._common.device import resolve_device
        from ..kernels.errors import KernelError

        try:
            resolve_device(args.device)
        except KernelError as e:
            print(f"statetrack check: error: --device {args.device}: {cli_text(str(e))}",
                  file=sys.stderr)
            return 2
    entries = catalogue()
    if args.only:
        try:
            entries = _select(entries, args.only)
        except ValueError as e:
            print(f"statetrack check: error: --only: {e}", file=sys.stderr)
            return 2
    for e in entries:
        note = size_note("check", e.dfa.n_states)
        if note:
            print(f"{note} ({e.name})", file=sys.stderr, flush=True)
    rows = []
    bar = tqdm(entries, desc="check", unit="lang", file=sys.stderr,
               disable=not show_progress(args))
    for e in bar:
        bar.set_postfix_str(e.name)
        rows.append(_check_language(e.name, e.dfa, monoid_limit=args.monoid_limit,
                                    theory=not args.no_theory))
    print(_format_table(rows))
    print("\ncolumns:\n" + _legend(rows))
    failed = [r for r in rows if not r.ok]
    for r in failed:
        for f in r.failures:
            print(f"FAIL {r.name}: {f}")
    print(f"\n{len(rows) - len(failed)}/{len(rows)} languages pass every check")
    device_rows, device_failed = [], []
    if args.device:
        import numpy as np

        from ..kernels.errors import KernelError
        from .device import device_check, format_device_rows

        dev_bar = tqdm(entries, desc=f"check --device {args.device}", unit="lang",
                       file=sys.stderr, disable=not show_progress(args))
        dev_bar_names = (dev_bar.set_postfix_str(e.name) or e for e in dev_bar)
        try:
            device_rows = device_check(dev_bar_names, args.device, length=args.length,
                                       batch=args.batch, kernel=args.kernel,
                                       rng=np.random.default_rng(args.seed), form=args.form)
        except KernelError as e:
            print(f"statetrack check: error: --device {args.device}: {cli_text(str(e))}",
                  file=sys.stderr)
            return 2
        finally:
            dev_bar.close()
        print()
        print(format_device_rows(device_rows))
        device_failed = [r for r in device_rows if not r.ok]
        for r in device_failed:
            print(f"FAIL {r.name} (--device {args.device}): {r.status}, "
                  f"mismatches={r.mismatches} {r.note}".rstrip())
        ran = [r for r in device_rows if r.status != "skipped"]
        where = args.device
        if where == "auto":          # say where it ran
            from ..kernels._common.device import resolve_device

            where = f"{resolve_device('auto')} (auto)"
        print(f"\n{len(ran) - len(device_failed)}/{len(ran)} constructions run with zero "
              f"mismatches on {where} ({len(device_rows) - len(ran)} skipped)")
    if args.json:
        payload = {"rows": [asdict(r) | {"ok": r.ok} for r in rows],
                   "passed": len(rows) - len(failed), "failed": len(failed)}
        if args.device:
            payload["device_rows"] = [asdict(r) | {"ok": r.ok} for r in device_rows]
        try:
            with open(args.json, "w", encoding="utf-8") as f:
                json.dump(payload, f, indent=2)
        except OSError as e:  # the early check cannot see everything (read-only mounts, /proc)
            print(f"statetrack check: error: --json {args.json}: cannot write "
                  f"({e.strerror or e}); the table above is complete, the JSON file is not "
                  f"written", file=sys.stderr)
            return 2
    return 1 if failed or device_failed else 0


def show_progress(args: argparse.Namespace) -> bool:
    """Whether ``statetrack check`` draws progress bars: on stderr, only when stderr is a
    terminal and neither ``--quiet`` nor ``--json`` was given."""
    return not (args.quiet or args.json) and sys.stderr.isatty()


def _select(entries: list, wanted: Sequence[str]) -> list:
    """Catalogue entries named in ``wanted`` (by spec or family); other family specs are
    built; anything else is read as ``statetrack compile`` reads its PATTERN (a DFA or
    construction file, else a regex over its own symbols).

    Raises ``ValueError`` (a usage error) for a name that is none of these.
    """
    from ..automata.errors import AutomatonError
    from ..automata.families import FAMILIES, CatalogueEntry, get, parse_spec
    from ..constructions.errors import ConstructionError
    from .compile import resolve_pattern

    chosen = []
    for spec in wanted:
        hits = [e for e in entries if spec in (e.name, e.family)]
        if not hits:
            try:
                family = parse_spec(spec)[0]
                if family not in FAMILIES:
                    close = difflib.get_close_matches(
                        family, sorted(set(FAMILIES) | {e.name for e in entries}), n=2)
                    hint = (f"; did you mean {' or '.join(repr(c) for c in close)}?" if close
                            else "")
                    raise AutomatonError(f"no family {family!r}{hint}")
                hits = [CatalogueEntry(name=spec, family=family, dfa=get(spec))]
            except AutomatonError as e_family:
                if not (os.path.exists(spec) or spec.endswith(".json")
                        or any(c in spec for c in "|*+?()[]{}")):
                    raise ValueError(f"no catalogue entry or family matches {spec!r} "
                                     f"({e_family}); a DFA file or a regex is read too, a "
                                     f"regex here having an operator (write the word ab as "
                                     f"'(ab)')") from None
                try:
                    source, how = resolve_pattern(spec)
                except (AutomatonError, ConstructionError, OSError) as e:
                    raise ValueError(f"{spec!r} is no catalogue entry or family spec, "
                                     f"and as a DFA file or regex: {e}") from None
                dfa = getattr(source, "dfa", source).minimize()
                hits = [CatalogueEntry(name=spec, family=how, dfa=dfa)]
        chosen += [h for h in hits if h not in chosen]
    return chosen




def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``check`` subcommand to an argparse subparsers object."""
    c = subparsers.add_parser(
        "check", help="run every check on the built-in catalogue",
        description=DESCRIPTION,
        epilog="exit status: 0 every check passed, 1 a check failed, 2 bad input")
    c.add_argument("--json", metavar="FILE", help="also write the rows as JSON to FILE")
    c.add_argument("--only", nargs="+", metavar="SPEC",
                   help="only these catalogue entries, families, or other family specs "
                        "such as 'cyclic(13)'; anything else is read as `statetrack "
                        "compile` reads PATTERN: a DFA file, or a regex such as "
                        "'(a|b)*a(a|b){3}'")
    c.add_argument("--monoid-limit", type=positive_int, default=1_000_000,
                   help="largest transition monoid to enumerate (default 10^6) for the "
                        "monoid column; the theorem columns T1 and T2 enumerate at most "
                        "min(N, 10^5) elements (statetrack.theory.registry.MONOID_LIMIT) and "
                        "read 'skipped' past it; both limits are lower for DFAs of more than "
                        "20 states (N) or 200 states (T1/T2): each element is a map of the "
                        "|Q| states, at most 2*10^7 entries in all")
    c.add_argument("--no-theory", action="store_true", help="skip the theorem columns")
    c.add_argument("-q", "--quiet", action="store_true",
                   help="no progress bar (there is none either with --json or when stderr is "
                        "not a terminal)")
    c.add_argument("--device", choices=["cuda", "cpu", "auto"],
                   help="also run every language with a construction through the kernels on "
                        "this device and compare with the DFA (mismatches, symbols/s)")
    c.add_argument("--length", type=positive_int, default=None,
                   help="word length for --device (default 10^6 on cuda, 2000 on cpu)")
    c.add_argument("--batch", type=positive_int, default=None,
                   help="words per language for --device (default 4 on cuda, 2 on cpu)")
    c.add_argument("--kernel", choices=["auto", "tabled", "recurrent", "reference"],
                   default=None, help="kernel for --device (default: auto)")
    c.add_argument("--seed", type=nonnegative_int, default=None,
                   help="seed of the --device words (default 0)")
    c.add_argument("--form", choices=["auto", "permutation", "faithful"], default=None,
                   help="with --device, the construction it runs: the Theorem 3 form on the "
                        "DFA's states, the faithful (coset) form, or the narrower of the two "
                        "(default: auto)")
    c.set_defaults(func=run)
    return c
