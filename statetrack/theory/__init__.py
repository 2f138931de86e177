"""The theorems as executable checks: exact proofs, spectra, factorizations, finite precision.

>>> from statetrack.automata import families
>>> from statetrack.constructions import compile
>>> from statetrack.theory import verify
>>> dfa = families.get("cyclic(5)")
>>> verify(compile(dfa), dfa).reachable
5

Modules: ``proof`` (the exact proof obligation: :func:`verify`, :func:`load_verified`),
``spectra``, ``letter_spectrum`` (one letter's eigenvalues named exactly, as ``statetrack
compile`` prints them), ``factorization`` (Proposition 1), ``finite_precision`` (Theorems 1
and 2 as certificates), ``mod_counting`` (Theorem 2's real-eigenvalue hypothesis, decided
exactly, and its period bound ``2^depth``), ``registry`` (the theorems, run by ``statetrack
check``), ``figures``.
"""

from .factorization import (
    GHFactor,
    check_factorization,
    gh_factors,
    permutation_factors,
    reflection_factors,
    spectral_norm_bound_holds,
)
from .finite_precision import (
    FiniteSet,
    FPLayer,
    FPModel,
    eventual_period,
    from_lrnn,
    get_format,
    mod_counterexample,
    parity_counterexample,
)
from .registry import COLUMN_LEGEND, SKIPPED, THEOREMS, element_periods, run_all, theorem
from .spectra import check_spectrum, eigenvalues, word_spectra
from .proof import (
    Certificate,
    Counterexample,
    check_words,
    load_verified,
    loads_verified,
    verify,
    verify_construction,
)

__all__ = [
    "GHFactor", "check_factorization", "gh_factors", "permutation_factors",
    "reflection_factors", "spectral_norm_bound_holds",
    "FiniteSet", "FPLayer", "FPModel", "eventual_period", "from_lrnn", "get_format",
    "mod_counterexample", "parity_counterexample",
    "THEOREMS", "theorem", "run_all", "COLUMN_LEGEND", "SKIPPED", "element_periods",
    "check_spectrum", "eigenvalues", "word_spectra",
    "Certificate", "Counterexample", "check_words", "verify", "load_verified", "loads_verified",
    "verify_construction",
]
