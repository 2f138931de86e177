"""``statetrack compile PATTERN``: a language to a proven LRNN construction.

PATTERN is, in this order of precedence (``--kind`` forces one):

1. a path to an existing file (or any name ending in ``.json``): a *construction file*
   (format ``statetrack.construction``, written by ``--out``) is loaded with
   :func:`statetrack.theory.proof.load_verified` -- its model is proved again against its
   stored DFA and compared with its stored certificate -- and printed; any other file is read
   as a DFA in the JSON format of :meth:`statetrack.automata.DFA.to_json`; a path to an
   existing folder (a name with a path separator) is an error in auto mode, a mistyped file
   name far more often than a regex;
2. a family spec of :mod:`statetrack.automata.families` (``parity``, ``cyclic(5)``,
   ``symmetric(n=4)``) when its name is registered or it has the form ``name(...)`` (an
   unknown name then gets the registry's "did you mean" error; use ``--kind regex`` for
   such a regex); in auto mode a bare word that is not a family but is close to one
   (``paritty``) is an error too, naming the family;
3. a regular expression (:func:`statetrack.automata.regex.from_regex`; ``--alphabet`` sets
   the symbols).

The command prints the minimal DFA (size, alphabet, start, accepting states and, for small
DFAs, the transition table), its monoid class, the construction (layers, width, ``n_h``
against Theorem 3's bound, the GH factors' eigenvalues and the eigenvalues of every
``A(a)``: from the cycle type for permutation matrices, else as roots of unity
``exp(+-2 pi i p/q)`` proved exactly by ``A^Q = I`` in the model's number field, with their
numeric values: :func:`statetrack.theory.letter_spectrum.letter_spectrum`), the exact proof
verdict of :func:`statetrack.theory.proof.verify`, a float check of all short words and
random long words, and, for forms that are inexact in floats, the lengths up to which float32
and bfloat16 stay correct (float-check mismatches of such forms are expected and do not fail
the command). ``--out FILE`` writes the construction and
its certificate in the format of :mod:`statetrack.constructions.io`.

Exit status (also in ``statetrack compile --help``)::

    exit status:
      0  proved exactly (and the float check passed, for forms exact in floats)
      1  a counterexample, an unfinished proof, or a float mismatch of a form exact in floats
      2  bad input: unreadable PATTERN, a tampered construction file, a form that does not exist
         for this automaton, a bad option (argparse's usage errors also exit 2)
      3  unsupported: the construction is over a size limit (a holonomy skeleton over
         --max-skeleton sets, a cascade level too wide for exact bfloat16 registers, or
         Theorem 6's weights too large to store exactly)
"""
from __future__ import annotations

import argparse
import difflib
import json
import os
import re
import sys
from typing import Any

import numpy as np

from ._args import (MONOID_ENTRIES, cli_text, monoid_limit_for, nonnegative_int,
                    output_file_problem, positive_int, regex_alphabet, size_note)

__all__ = ["add_parser", "run", "resolve_pattern", "EXIT_OK", "EXIT_FAILED", "EXIT_BAD_INPUT",
           "EXIT_UNSUPPORTED"]

_TABLE_MAX_STATES = 16
#: Exit statuses (see the module docstring).
EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_UNSUPPORTED = 0, 1, 2, 3
_EXIT_HELP = """exit status:
  0  proved exactly (and the float check passed, for forms exact in floats)
  1  a counterexample, an unfinished proof, or a float mismatch of a form exact in floats
  2  bad input: unreadable PATTERN, a tampered construction file, a form that does not
     exist for this automaton, a bad option (argparse's usage errors also exit 2)
  3  unsupported: the construction is over a size limit (a holonomy skeleton over
     --max-skeleton sets, a cascade level too wide for exact bfloat16 registers, or
     Theorem 6's weights too large to store exactly)
"""
_UNSUPPORTED = "unsupported: the construction is over a size limit"
#: Most random symbols (--random x --random-length) of the float check.
_RANDOM_SYMBOLS = 10_000_000


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``compile`` subcommand to an argparse subparsers object."""
    p = subparsers.add_parser(
        "compile", help="compile a regex, family, DFA file or construction file into a "
                        "proven LRNN",
        description=__doc__.split("\n\n")[0], epilog=_EXIT_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("pattern", metavar="PATTERN",
                   help="a DFA or construction JSON file, a family spec such as 'cyclic(5)', "
                        "or a regex")
    p.add_argument("--kind", choices=("auto", "file", "family", "regex"), default="auto",
                   help="how to read PATTERN (default: file, then family, then regex)")
    p.add_argument("--alphabet", default=None, type=regex_alphabet,
                   help="symbols of a regex, one character each, e.g. 'ab' (whitespace is "
                        "never a symbol: 'a b' is the same alphabet); only for a regex")
    p.add_argument("--form", choices=("auto", "permutation", "rotation", "diagonal",
                                      "faithful", "cascade", "reflections"),
                   default=None, help="construction form (default: auto, the narrowest: "
                                      "for group languages the permutation form or the "
                                      "faithful one, a small faithful permutation action "
                                      "of the group, K = m <= |Q|; for every "
                                      "other language the Theorem 4 cascade)")
    p.add_argument("--packed", action="store_true",
                   help="a cascade with Theorem 4's d = 1: each layer's register packed into "
                        "one number (V = 1); exact in bfloat16 while the codes stay <= 256")
    p.add_argument("--per-component", action="store_true",
                   help="a cascade with a layer per holonomy component, as Theorem 4's proof "
                        "has it (narrower layers, more of them), instead of a layer per level")
    p.add_argument("--max-skeleton", type=positive_int, default=5000, metavar="N",
                   help="most sets in the holonomy skeleton of a cascade (default 5000)")
    p.add_argument("--normalized", action="store_true",
                   help="the paper's unit keys (inexact in floats) instead of integer keys")
    p.add_argument("--out", metavar="FILE", help="write the construction and its certificate")
    p.add_argument("--words", type=nonnegative_int, default=8, metavar="L",
                   help="float check: all words of length L (capped at 10^5 words; default 8)")
    p.add_argument("--random", type=nonnegative_int, default=64, metavar="N",
                   help="float check: N random words (default 64)")
    p.add_argument("--random-length", type=positive_int, default=512, metavar="T",
                   help="length of the random words (default 512; --random x --random-length "
                        "is at most 10^7 symbols)")
    p.add_argument("--seed", type=nonnegative_int, default=0, help="seed of the random words")
    p.add_argument("--horizon-length", type=positive_int, default=100_000, metavar="T",
                   help="simulation length of the float horizon of inexact forms")
    p.add_argument("--limit", type=positive_int, default=1_000_000,
                   help="most reachable states the exact proof explores")
    p.set_defaults(func=run)
    return p


def _is_construction_file(path: str) -> bool:
    """Whether ``path`` is a JSON object with ``"format": "statetrack.construction"``."""
    try:
        with open(path, "rb") as f:
            data = json.loads(f.read().decode("utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return False
    return isinstance(data, dict) and data.get("format") == "statetrack.construction"


def resolve_pattern(pattern: str, *, kind: str = "auto", alphabet: str | None = None,
                    limit: int = 1_000_000):
    """``(source, how)``: what PATTERN names and how it was read.

    ``source`` is a :class:`~statetrack.automata.DFA`, or for a construction file a
    verified :class:`~statetrack.constructions.io.Construction`
    (:func:`statetrack.theory.proof.load_verified`).

    Raises
    ------
    AutomatonError
        Unreadable DFA file, unknown family (also a bare word close to a family name in
        auto mode: "did you mean ...?"), or a bad regex.
    ConstructionError
        A corrupt or tampered construction file.
    """
    from ..automata import DFA
    from ..automata.errors import UnknownLanguageError

    if kind == "file" or (kind == "auto" and (os.path.isfile(pattern)
                                               or pattern.endswith(".json"))):
        if _is_construction_file(pattern):
            from ..theory.proof import load_verified

            return load_verified(pattern, limit=limit), "construction file"
        return DFA.from_json(pattern), "DFA file"
    if kind == "auto" and os.sep in pattern and os.path.isdir(pattern):
        from ..automata.errors import SerializationError

        # a path to a folder is a mistyped file name far more often than a regex over '/'
        raise SerializationError(f"{pattern!r} is a folder, not a DFA or construction file; "
                                 f"use --kind regex to compile it as a regex")
    if kind in ("auto", "family"):
        from ..automata import families

        name = pattern.split("(", 1)[0].strip()
        looks_like_spec = re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*\s*\(.*\)", pattern.strip())
        if kind == "family" or name in families.FAMILIES or looks_like_spec:
            return families.get(pattern), "family"
        if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", pattern.strip()):
            close = difflib.get_close_matches(pattern.strip(), list(families.FAMILIES), n=1,
                                              cutoff=0.8)
            if close:
                raise UnknownLanguageError(
                    f"{pattern!r} is not a family; did you mean {close[0]!r}? use --kind regex "
                    f"to compile it as a regex")
    from ..automata.regex import from_regex

    return from_regex(pattern, alphabet), "regex"


def _fmt_word(w) -> str:
    return " ".join(w) if w else "(empty word)"


def _dfa_lines(dfa) -> list[str]:
    out = [f"minimal DFA: {_plural(dfa.n_states, 'state')}, alphabet {list(dfa.alphabet)}, start "
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


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


#: More tokens than this over all layers: per-layer summaries instead of a line per token.
_TOKEN_LINES_MAX = 40


def _print_cascade(lrnn, d, per_component: bool = False) -> None:
    """The holonomy levels and the stack, layer by layer (Theorem 4)."""
    from ..automata.holonomy import holonomy_decomposition
    from ..constructions.cascade import ComponentCascade

    casc = holonomy_decomposition(d)
    levels = str(casc).splitlines()
    print(f"  holonomy cascade of the minimal DFA: {_plural(len(levels), 'level')} "
          f"(SgpDec style: level: (degree, group) per component, a bare degree for a pure "
          f"reset component)")
    for line in levels:
        print(f"    {line}")
    widest = max(layer.width for layer in lrnn.layers)
    if per_component:
        units = ComponentCascade(casc, len(d.alphabet), max_width=d.n_states).level_labels()
        how = ("a layer per component (a component wider than |Q| split into several, "
               "narrowed along classes its group preserves or lifted) and a delay layer "
               "between two (2L - 1 layers for L levels after the split)")
    else:
        units = [f"level {i + 1}" for i in range(len(casc.levels))]
        how = "a layer per level and a delay layer between levels (2L - 1 for L levels)"
    if not per_component and len(units) != (lrnn.depth + 1) // 2:
        # a loaded file's per-component stack (no component split): a layer per component
        units = [f"level {i + 1}" + (f" component {j + 1}" if len(lv.components) > 1 else "")
                 for i, lv in enumerate(casc.levels) for j in range(len(lv.components))]
    if len(units) != (lrnn.depth + 1) // 2:       # a stack this printer does not know
        units = [f"stage {i + 1}" for i in range((lrnn.depth + 1) // 2)]
    print(f"  stack: {_plural(lrnn.depth, 'layer')} = {how}; the paper's bound "
          f"(Krohn-Rhodes): at most 2^|Q| = 2^{d.n_states} layers of width <= |Q| = "
          f"{d.n_states}"
          + (f" (a layer here is wider, K = {widest}: a level's layer holds all its "
             f"components' tiles, plus a register row above the first level, where the "
             f"paper's layer holds one component; --per-component narrows them)"
             if widest > d.n_states and not per_component else
             f" (a layer here is wider, K = {widest}: a component this construction could "
             f"not narrow)" if widest > d.n_states else ""))
    v = max(layer.value_dim for layer in lrnn.layers)
    print(("  value width: d = 1, Theorem 4's (one level: no register)" if lrnn.depth == 1 else
           "  value width: d = 1 in every layer, Theorem 4's (each register packed into one "
           "number)") if v == 1 else
          f"  value width: up to V = {v} (the registers' numbers in columns, each a level "
          f"state); Theorem 4's d = 1 is --packed")
    for li, layer in enumerate(lrnn.layers):
        what = units[li // 2] if li % 2 == 0 else f"delay after {units[li // 2]}"
        eig = sorted({str(s.eigenvalue) for row in layer.steps for s in row
                      if not s.is_identity})
        print(f"    layer {li} ({what}): K = {layer.width}, V = {layer.value_dim}, "
              f"n_h = {layer.n_h}, {_plural(layer.n_tokens, 'token')}, "
              f"{layer.readout.n_classes} output class{'es' if layer.readout.n_classes != 1 else ''}; "
              f"GH factor eigenvalues "
              f"{{{', '.join(eig)}}}")


def _print_construction(lrnn, d, normalized: bool, per_component: bool = False) -> None:
    from ..theory.letter_spectrum import letter_spectrum, model_permutation

    perms = None
    layer0 = lrnn.layers[0]
    if lrnn.depth == 1 and lrnn.form != "cascade":
        perms = [model_permutation(layer0, a) for a in range(layer0.n_tokens)]
    bound = ""
    if lrnn.form == "faithful" and perms is not None and all(p is not None for p in perms):
        bound = (f" (the letters act faithfully on m = {lrnn.width} points; "
                 f"n_h <= m - 1 = {max(lrnn.width - 1, 0)}; the permutation form has "
                 f"K = |Q| = {d.n_states}, V = 1)")
    elif perms is not None and all(p is not None for p in perms):
        moved = max([sum(1 for q, x in enumerate(p) if q != x) for p in perms] + [0])
        bound = (f" (Theorem 3 bound: k - 1 = {max(moved - 1, 0)}, where k = {moved} is the "
                 f"most states one letter moves; at most |Q| - 1 = {d.n_states - 1})")
    print(f"construction: form {lrnn.form}{' (normalized keys)' if normalized else ''}, "
          f"{_plural(lrnn.depth, 'layer')}, width K = {lrnn.width}, "
          f"V = {max(la.value_dim for la in lrnn.layers)}, n_h = {lrnn.n_h}{bound}; "
          f"exact in floats: {_exact_in_floats_text(lrnn)}")
    if lrnn.form == "faithful":
        print(f"  state: the images of {layer0.value_dim} base point(s) under the group "
              f"element (S_0 = their one-hot columns); readout: "
              f"{layer0.readout.n_classes} classes, one per image of the base, each mapped "
              f"to its DFA state")
    if lrnn.form == "cascade":
        _print_cascade(lrnn, d, per_component)
    if lrnn.form == "reflections":
        print(f"  Theorem 6 (App. D): layer 0 counts the position mod 2 (A = -1 for every "
              f"input); layer 1 applies one 2x2 reflection per token (input, parity), "
              f"{lrnn.layers[1].readout.n_classes} states u(k) = (cos k pi/m, sin k pi/m) "
              f"for m = {d.n_states}: even positions at even k, odd positions at odd k")
    if lrnn.n_h == 0:
        print("  every A is the identity (n_h = 0); exporters pad one identity step "
              "(beta = 0) for the kernels")
    if sum(layer.n_tokens for layer in lrnn.layers) > _TOKEN_LINES_MAX:
        return
    for li, layer in enumerate(lrnn.layers):
        prefix = f"  layer {li} " if lrnn.depth > 1 else "  "
        for a, tok in enumerate(layer.tokens):
            steps = [s for s in layer.steps[a] if not s.is_identity]
            fe = sorted({str(s.eigenvalue) for s in steps})
            eig = letter_spectrum(lrnn, li, a).summary()
            factors = _plural(len(steps), "GH factor")
            if fe:
                factors += f" with eigenvalue{'s' if len(fe) > 1 else ''} {', '.join(fe)}"
            print(f"{prefix}A({tok!r}): {factors}; eigenvalues of A: {eig}")


def _exact_in_floats_text(lrnn: Any) -> str:
    """The float exactness proof (:meth:`~statetrack.constructions.lrnn.LRNN.float_exactness`)
    in a few words: ``yes (proved ...)``, ``no (...)`` or which formats are proved."""
    ex = lrnn.float_exactness()
    proved = [f for f in ex.formats if ex.proved(f)]
    if len(proved) == len(ex.formats):
        return (f"yes (proved in {', '.join(ex.formats)} for every word: every product and sum "
                f"is exact on the {ex.reachable} reachable states)")
    first = next(f for f in ex.formats if not ex.proved(f))
    why = f"{first}: {ex.reason(first)}"
    if not proved:
        return f"no ({why})"
    return f"in {', '.join(proved)} (proved for every word); not proved in the others ({why})"


def run(args: argparse.Namespace) -> int:
    """Run ``statetrack compile``; returns the exit status (see the module docstring)."""
    from ..automata.errors import AutomatonError
    from ..constructions import io as cio
    from ..constructions.compile import compile as compile_dfa
    from ..automata.errors import DecompositionLimitError
    from ..constructions.cascade import compile_cascade
    from ..constructions.errors import (CascadeError, ConstructionError, FormError,
                                        StoredNumberSizeError)
    from ..constructions.group import is_group_dfa
    from ..constructions.io import Construction
    from ..theory.proof import check_words, verify

    err = sys.stderr
    if args.random * args.random_length > _RANDOM_SYMBOLS:
        print(f"statetrack compile: error: --random {args.random} --random-length "
              f"{args.random_length}: {args.random * args.random_length:.3g} random symbols, "
              f"more than the float check's {_RANDOM_SYMBOLS:.0e}; lower one of them", file=err)
        return EXIT_BAD_INPUT
    problem = args.out and output_file_problem("--out", args.out, "construction.json")
    if problem:     # before the proof, which can take minutes
        print(f"statetrack compile: error: {problem}", file=err)
        return EXIT_BAD_INPUT
    try:
        source, how = resolve_pattern(args.pattern, kind=args.kind, alphabet=args.alphabet,
                                      limit=args.limit)
    except (AutomatonError, ConstructionError, OSError) as e:
        print(f"statetrack compile: error: cannot read PATTERN {args.pattern!r}: "
              f"{cli_text(str(e))}", file=err)
        return EXIT_BAD_INPUT
    if args.alphabet is not None and how != "regex":
        print(f"statetrack compile: error: --alphabet applies to a regex only; PATTERN "
              f"{args.pattern!r} was read as a {how} (use --kind regex to read it as a regex)",
              file=err)
        return EXIT_BAD_INPUT
    loaded = source if isinstance(source, Construction) else None
    if loaded is not None and (args.form is not None or args.normalized or args.packed
                               or args.per_component):
        print("statetrack compile: error: --form, --normalized, --packed and --per-component "
              "do not apply to a construction file (its model is fixed)", file=err)
        return EXIT_BAD_INPUT
    d = (loaded.dfa if loaded is not None else source).minimize()
    print(f"language: {args.pattern}  ({how})")
    for line in _dfa_lines(d):
        print(line)
    note = size_note("compile", d.n_states)
    if note:
        sys.stdout.flush()
        print(note, file=err, flush=True)
    monoid_limit = monoid_limit_for(d.n_states, args.limit)
    try:
        from ..automata.errors import MonoidLimitError
        from ..automata.monoid import classify

        print(f"monoid: {classify(d, limit=monoid_limit).short()}")
    except ImportError:  # pragma: no cover
        pass
    except MonoidLimitError as e:
        if monoid_limit < args.limit:
            print(f"monoid: not computed (more than {monoid_limit} elements, each a map of "
                  f"the {d.n_states} states: past the {MONOID_ENTRIES:.0e}-entry memory "
                  f"budget of the monoid enumeration)")
        else:
            print(f"monoid: not computed ({type(e).__name__}: {cli_text(str(e))})")
    except Exception as e:  # noqa: BLE001 -- a missing column must not stop the compile
        print(f"monoid: not computed ({type(e).__name__}: {cli_text(str(e))})")
    form = args.form or "auto"
    if loaded is not None:
        lrnn = loaded.lrnn
    else:
        try:
            if form == "cascade" or (form == "auto" and not is_group_dfa(d)):
                if args.normalized:
                    raise FormError("the cascade form has no normalized variant (its steps "
                                    "use integer keys); use --form permutation --normalized")
                lrnn = compile_cascade(d, name=args.pattern, max_skeleton=args.max_skeleton,
                                       progress=sys.stderr.isatty(), packed=args.packed,
                                       per_component=args.per_component)
            else:
                for flag, on, what in (("--packed", args.packed, "Theorem 4's d = 1"),
                                       ("--per-component", args.per_component,
                                        "a layer per holonomy component")):
                    if not on:
                        continue
                    raise FormError(
                        f"{flag} applies to the cascade form only ({what}); "
                        + (f"--form {form} is not a cascade (drop {flag}, or use "
                           f"--form cascade {flag})" if form != "auto" else
                           f"this language's monoid is a group, so the auto form is Theorem "
                           f"3's one-layer construction, not a cascade; use --form cascade "
                           f"{flag} for Theorem 4's stack"))
                lrnn = compile_dfa(d, form=form, normalized=args.normalized,
                                   name=args.pattern)
        except (DecompositionLimitError, CascadeError, StoredNumberSizeError) as e:
            reason = cli_text(str(e))
            print(f"statetrack compile: {_UNSUPPORTED}\n  reason: {reason}", file=err)
            return EXIT_UNSUPPORTED
        except (ConstructionError, AutomatonError) as e:
            print(f"statetrack compile: error: {cli_text(str(e))}", file=err)
            return EXIT_BAD_INPUT
    _print_construction(lrnn, d, args.normalized, bool(args.per_component))
    status = EXIT_OK
    if loaded is not None:
        proof = loaded.certificate
        print(f"proof: re-verified on load (the stored certificate matches): {proof.summary()}")
    else:
        try:
            proof = verify(lrnn, d, limit=args.limit)
        except ConstructionError as e:
            print(f"proof: not completed ({cli_text(str(e))})")
            proof = None
            status = EXIT_FAILED
        else:
            print(f"proof: {proof.summary()}")
            if not proof.ok:
                status = EXIT_FAILED
    rng = np.random.default_rng(args.seed)
    for dt in ("float32", "bfloat16"):
        if sys.stderr.isatty():         # seconds on large stacks: say what is running
            print(f"float check ({dt}): running every word up to length {args.words} and "
                  f"{args.random} random words ...", file=sys.stderr, flush=True)
        wc = check_words(lrnn, d, max_length=args.words, n_random=args.random,
                         random_length=args.random_length, rng=rng, dtype=dt,
                         max_words=100_000)
        if wc.ok:
            verdict = "ok"
        elif lrnn.float_exactness().proved(dt):
            verdict = (f"{wc.mismatches} MISMATCHES, first at {_fmt_word(wc.first_mismatch)} "
                       f"(the model is proved exact in {dt}: a failure)")
            status = EXIT_FAILED
        else:
            verdict = (f"{wc.mismatches} mismatch{'es' if wc.mismatches != 1 else ''}"
                       f", first at length {len(wc.first_mismatch)} (expected: "
                       f"{_why_inexact(lrnn, dt)})")
        print(f"float check ({dt}): {wc.n_words} words, {wc.n_prefixes} prefixes: {verdict}")
    if not all(lrnn.float_exactness().proved(dt) for dt in ("float32", "bfloat16")):
        from ..constructions.precision import float_horizon

        said = set()
        for dt, sd in (("float32", None), ("bfloat16", None), ("bfloat16", "float32")):
            try:
                h = float_horizon(lrnn, dt, state_dtype=sd, max_length=args.horizon_length)
                print(f"float horizon: {h.summary()}")
            except ConstructionError as e:
                if str(e) not in said:          # a multi-layer model: the same reason each time
                    said.add(str(e))
                    print(f"float horizon: not computed ({e})")
    if args.out:
        try:
            cio.save(args.out, lrnn, dfa=d, certificate=proof if proof is not None and proof.ok
                     else None)
        except OSError as e:
            print(f"statetrack compile: error: cannot write {args.out}: {e.strerror}", file=err)
            return EXIT_BAD_INPUT
        except ConstructionError as e:
            print(f"statetrack compile: error: cannot write {args.out}: {e}", file=err)
            return EXIT_BAD_INPUT
        print(f"wrote {args.out} ({cio.FORMAT_NAME} v{cio.FORMAT_VERSION})")
    return status


def _why_inexact(lrnn, dt: str) -> str:
    """Why float mismatches of a model not proved exact in ``dt`` are expected: a packed
    cascade (one value column over several layers) outgrows the format's integers, which the
    register columns never do; any other form is inexact by its weights."""
    if lrnn.form == "cascade":
        why = f"not proved exact in {dt}: {lrnn.float_exactness().reason(dt)}"
        if lrnn.depth > 1 and all(layer.value_dim == 1 for layer in lrnn.layers):
            top = max(abs(int(c[0])) for layer in lrnn.layers for c in layer.readout.codes)
            why += (f"; the packed codes reach {top}; without --packed the registers' "
                    f"numbers stay level states, exact in every format")
        return why
    return f"the {lrnn.form} form is inexact in floats; see the float horizon lines below"


def main(argv: list[str] | None = None) -> int:
    """Run the subcommand alone (``python -m statetrack.cli.compile PATTERN``)."""
    parser = argparse.ArgumentParser(prog="statetrack")
    sub = parser.add_subparsers(dest="command", required=True)
    add_parser(sub)
    args = parser.parse_args(["compile", *(sys.argv[1:] if argv is None else argv)])
    return args.func(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
