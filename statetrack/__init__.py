"""statetrack: state-tracking in linear RNNs, from minimal DFAs to exact GPU runs.

Subpackages: :mod:`statetrack.automata`, :mod:`statetrack.constructions`,
:mod:`statetrack.theory`, :mod:`statetrack.kernels`. Shared by all of them:
:mod:`statetrack.floats` (number formats: names, aliases, correct rounding) and
:mod:`statetrack.errors` (the exception root :class:`~statetrack.errors.StatetrackError`).
"""

__version__ = "0.1.0"
