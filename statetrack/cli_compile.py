"""``statetrack compile PATTERN``: a language to a proven LRNN construction.

PATTERN is, in this order of precedence (``--kind`` forces one):

1. a path to an existing file (or any name ending in ``.json``): a DFA in the JSON format
   of :meth:`statetrack.automata.DFA.to_json`;
2. a family spec of :mod:`statetrack.automata.families` (``parity``, ``cyclic(5)``,
   ``symmetric(n=4)``) when its name is registered or it has the form ``name(...)`` (an
   unknown name then gets the registry's "did you mean" error; use ``--kind regex`` for
   such a regex);
3. a regular expression (:func:`statetrack.automata.regex.from_regex`; ``--alphabet`` sets
   the symbols).

The command prints the minimal DFA (size, alphabet, start, accepting states and, for small
DFAs, the transition table), its monoid class, the construction (layers, width, ``n_h``
against Theorem 3's bound, the GH factors' eigenvalues and the eigenvalues of every
``A(a)``), the exact proof verdict of :func:`statetrack.theory.verify.verify`, a float check
of all short words and random long words, and, for forms that are inexact in floats, the
lengths up to which float32 and bfloat16 stay correct. ``--out FILE`` writes the construction
and its certificate in the format of :mod:`statetrack.constructions.io`.

Exit status: 0 proved (and the float check passed), 1 a counterexample or a float mismatch,
2 bad input (the message says what was wrong).
"""

from __future__ import annotations

import argparse
import math
import os
import re
import sys
from collections import Counter
from typing import Any

import numpy as np

__all__ = ["add_parser", "run", "resolve_pattern"]

_TABLE_MAX_STATES = 16


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``compile`` subcommand to an argparse subparsers object."""
    p = subparsers.add_parser(
        "compile", help="compile a regex, family or DFA file into a proven LRNN",
        description=__doc__.split("\n\n")[0])
    p.add_argument("pattern", metavar="PATTERN",
                   help="a DFA JSON file, a family spec such as 'cyclic(5)', or a regex")
    p.add_argument("--kind", choices=("auto", "file", "family", "regex"), default="auto",
                   help="how to read PATTERN (default: file, then family, then regex)")
    p.add_argument("--alphabet", default=None,
                   help="symbols of a regex (one character each), e.g. 'ab'")
    p.add_argument("--form", choices=("permutation", "rotation", "diagonal"),
                   default="permutation", help="construction form (default: permutation)")
    p.add_argument("--normalized", action="store_true",
                   help="the paper's unit keys (inexact in floats) instead of integer keys")
    p.add_argument("--out", metavar="FILE", help="write the construction and its certificate")
    p.add_argument("--words", type=int, default=8, metavar="L",
                   help="float check: all words of length L (capped at 10^5 words; default 8)")
    p.add_argument("--random", type=int, default=64, metavar="N",
                   help="float check: N random words (default 64)")
    p.add_argument("--random-length", type=int, default=512, metavar="T",
                   help="length of the random words (default 512)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random words")
    p.add_argument("--horizon-length", type=int, default=100_000, metavar="T",
                   help="simulation length of the float horizon of inexact forms")
    p.add_argument("--limit", type=int, default=1_000_000,
                   help="most reachable states the exact proof explores")
    p.set_defaults(func=run)
    return p


def resolve_pattern(pattern: str, *, kind: str = "auto", alphabet: str | None = None):
    """``(dfa, how)``: the DFA named by PATTERN and how it was read."""
    from .automata import DFA
    from .automata.errors import UnknownLanguageError

    if kind == "file" or (kind == "auto" and (os.path.isfile(pattern)
                                               or pattern.endswith(".json"))):
        return DFA.from_json(pattern), "DFA file"
    if kind in ("auto", "family"):
        try:
            from .automata import families
        except ImportError:  # pragma: no cover - families is part of the package
            families = None
        if families is not None:
            name = pattern.split("(", 1)[0].strip()
            looks_like_spec = re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*\s*\(.*\)", pattern.strip())
            if kind == "family" or name in families.REGISTRY or looks_like_spec:
                return families.get(pattern), "family"
        elif kind == "family":  # pragma: no cover
            raise UnknownLanguageError("the families module is not available")
    from .automata.regex import from_regex

    return from_regex(pattern, alphabet), "regex"


def _fmt_word(w) -> str:
    return " ".join(w) if w else "(empty word)"


def _dfa_lines(dfa) -> list[str]:
    out = [f"minimal DFA: {dfa.n_states} states, alphabet {list(dfa.alphabet)}, start "
           f"{dfa.start}, accepting {list(dfa.accepting_states)[:20]}"
           f"{' ...' if len(dfa.accepting_states) > 20 else ''}"]
    if dfa.n_states <= _TABLE_MAX_STATES and dfa.n_symbols <= 16:
        syms = [str(s) for s in dfa.alphabet]
        w = max([len(s) for s in syms] + [len(str(dfa.n_states - 1))]) + 1
        out.append("  state " + "".join(s.rjust(w) for s in syms))
        for q in range(dfa.n_states):
            mark = (">" if q == dfa.start else " ") + ("*" if dfa.accepting[q] else " ")
            out.append(f"  {mark}{str(q).rjust(3)} " +
                       "".join(str(int(x)).rjust(w) for x in dfa.transitions[q]))
        out.append("  (> start, * accepting)")
    return out


def _eig_summary(values) -> str:
    """A multiset of eigenvalues as 'v (xk), ...'."""
    import sympy

    cnt: Counter = Counter()
    order = []
    for v in values:
        s = str(v)
        if s not in cnt:
            order.append(s)
        cnt[s] += 1
    parts = [f"{s}" + (f" (x{cnt[s]})" if cnt[s] > 1 else "") for s in order]
    text = ", ".join(parts)
    return text if len(text) <= 160 else text[:157] + "..."


def _letter_eigenvalues(lrnn, letter: str, perm) -> str:
    """Eigenvalues of A(letter): from the cycle type for permutation matrices (a cycle of
    length L contributes the L-th roots of unity), else exactly with sympy (K <= 8) or
    numerically."""
    import sympy

    if perm is not None:
        from .constructions.group import permutation_cycles

        cycles = permutation_cycles(perm)
        fixed = len(perm) - sum(len(c) for c in cycles)
        lengths = Counter(len(c) for c in cycles)
        ones = fixed + sum(lengths.values())
        parts = [f"1 (x{ones})" if ones > 1 else "1"]
        if lengths.get(2):
            parts.append(f"-1 (x{lengths[2]})" if lengths[2] > 1 else "-1")
        for L in sorted(lengths):
            if L > 2:
                c = lengths[L]
                parts.append(f"exp(2 pi i k/{L}), k = 1..{L - 1}" + (f" (x{c})" if c > 1 else ""))
        return ", ".join(parts)
    layer = lrnn.layers[0]
    a = sympy.Matrix(layer.A(letter))
    if layer.width <= 8:
        vals = []
        for v, mult in a.eigenvals().items():
            v = sympy.nsimplify(sympy.simplify(v.rewrite(sympy.exp)))
            vals += [sympy.simplify(v)] * mult
        return _eig_summary(vals)
    ev = np.linalg.eigvals(np.array(a.evalf(30).tolist(), dtype=np.float64))
    return _eig_summary([complex(round(z.real, 12), round(z.imag, 12)) for z in ev]) + \
        " (numeric)"


def run(args: argparse.Namespace) -> int:
    """Run ``statetrack compile``; returns the exit status."""
    from .automata.errors import AutomatonError
    from .constructions import io as cio
    from .constructions.compile import compile as compile_dfa
    from .constructions.errors import ConstructionError
    from .theory.verify import check_words, verify

    err = sys.stderr
    try:
        dfa, how = resolve_pattern(args.pattern, kind=args.kind, alphabet=args.alphabet)
    except (AutomatonError, ConstructionError, OSError) as e:
        print(f"statetrack compile: error: cannot read PATTERN {args.pattern!r}: {e}", file=err)
        return 2
    d = dfa.minimize()
    print(f"language: {args.pattern}  ({how})")
    for line in _dfa_lines(d):
        print(line)
    try:
        from .automata.monoid import classify

        print(f"monoid: {classify(d, limit=max(args.limit, 1)).short()}")
    except ImportError:  # pragma: no cover
        pass
    except Exception as e:  # noqa: BLE001 -- a missing column must not stop the compile
        print(f"monoid: not computed ({type(e).__name__}: {e})")
    try:
        lrnn = compile_dfa(d, form=args.form, normalized=args.normalized, name=args.pattern)
    except (ConstructionError, AutomatonError) as e:
        print(f"statetrack compile: error: {e}", file=err)
        return 2
    layer = lrnn.layers[0]
    perms = None
    if lrnn.form == "permutation":
        from .constructions.group import letter_permutations

        perms = letter_permutations(d)
        moved = max([int((p != np.arange(len(p))).sum()) for p in perms] + [0])
        bound = f"Theorem 3 bound k - 1 = {max(moved - 1, 0)} (k = {moved}: most states moved by " \
                f"one letter); never more than |Q| - 1 = {d.n_states - 1}"
    else:
        bound = f"form {lrnn.form}"
    print(f"construction: form {lrnn.form}{' (normalized keys)' if args.normalized else ''}, "
          f"{lrnn.depth} layer, width K = {lrnn.width}, V = {layer.value_dim}, "
          f"n_h = {lrnn.n_h} ({bound}); exact in floats: "
          f"{'yes' if lrnn.exact_in_floats else 'no'}")
    for a, sym in enumerate(lrnn.alphabet):
        steps = [s for s in layer.steps[a] if not s.is_identity]
        fe = sorted({str(s.eigenvalue) for s in steps})
        di = d.symbol_index(sym)
        eig = _letter_eigenvalues(lrnn, sym, None if perms is None else perms[di])
        print(f"  A({sym!r}): {len(steps)} GH factors"
              f"{' with eigenvalue ' + ', '.join(fe) if fe else ''}; eigenvalues of A: {eig}")
    status = 0
    try:
        proof = verify(lrnn, d, limit=args.limit)
    except ConstructionError as e:
        print(f"proof: not completed ({e})")
        proof = None
        status = 1
    else:
        print(f"proof: {proof.summary()}")
        if not proof.ok:
            status = 1
    rng = np.random.default_rng(args.seed)
    for dt in ("float32", "bfloat16"):
        wc = check_words(lrnn, d, max_length=args.words, n_random=args.random,
                         random_length=args.random_length, rng=rng, dtype=dt,
                         max_words=100_000)
        verdict = "ok" if wc.ok else (f"{wc.mismatches} MISMATCHES, first at "
                                      f"{_fmt_word(wc.first_mismatch)}")
        print(f"float check ({dt}): {wc.n_words} words, {wc.n_prefixes} prefixes: {verdict}")
        if not wc.ok and lrnn.exact_in_floats:
            status = 1
    if not lrnn.exact_in_floats:
        from .constructions.precision import float_horizon

        for dt, sd in (("float32", None), ("bfloat16", None), ("bfloat16", "float32")):
            try:
                h = float_horizon(lrnn, dt, state_dtype=sd, max_length=args.horizon_length)
                print(f"float horizon: {h.summary()}")
            except ConstructionError as e:
                print(f"float horizon: not computed ({e})")
    if args.out:
        try:
            cio.save(args.out, lrnn, dfa=d, certificate=proof if proof is not None and proof.ok
                     else None)
        except OSError as e:
            print(f"statetrack compile: error: cannot write {args.out}: {e.strerror}", file=err)
            return 2
        print(f"wrote {args.out} ({cio.FORMAT_NAME} v{cio.FORMAT_VERSION})")
    return status


def main(argv: list[str] | None = None) -> int:
    """Run the subcommand alone (``python -m statetrack.cli_compile PATTERN``)."""
    parser = argparse.ArgumentParser(prog="statetrack")
    sub = parser.add_subparsers(dest="command", required=True)
    add_parser(sub)
    args = parser.parse_args(["compile", *(sys.argv[1:] if argv is None else argv)])
    return args.func(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
