"""statetrack: state-tracking in linear RNNs, from minimal DFAs to exact GPU runs.

Subpackages: :mod:`statetrack.automata`, :mod:`statetrack.constructions`,
:mod:`statetrack.theory`, :mod:`statetrack.kernels`.
"""

__version__ = "0.1.0"
