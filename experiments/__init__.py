"""Training experiments on the toolkit's kernels: Grazzi et al. (ICLR 2025) Section 5 and the
construction initializer (issue 10).

Modules: :mod:`.tasks` (generators and their DFA verifier), :mod:`.automata` (the bracketed
modular-arithmetic DFA), :mod:`.model` (embedding, a stack of DeltaProduct or Mamba blocks,
head), :mod:`.initializer` (a model initialized from a construction), :mod:`.train` (the
entry point ``python -m experiments.train``), :mod:`.tables` (one command per table) and
:mod:`.plots`. See ``experiments/README.md`` and ``docs/experiments.md``.

This package imports :mod:`statetrack`; :mod:`statetrack` never imports it.
"""
