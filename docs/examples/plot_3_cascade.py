"""
A Krohn--Rhodes cascade and its stack of layers
===============================================

Theorem 4 for a language whose monoid is not a group: the words over ``{a, b}`` whose
second-to-last letter is ``a``. The holonomy decomposition covers its minimal DFA by a cascade
of permutation--reset levels (left panel: the levels and their components, arrows for
what each level reads); :func:`statetrack.constructions.compile` turns the cascade into ``2L - 1`` layers, one
per level and a delay layer between levels (right panel), and
:func:`statetrack.theory.verify` proves the stack.
"""

from statetrack.automata import from_regex, holonomy_decomposition
from statetrack.automata.cascade_drawing import draw_cascade
from statetrack.constructions import compile
from statetrack.theory import verify

dfa = from_regex("(a|b)*a(a|b)").minimize()
cascade = holonomy_decomposition(dfa)
model = compile(dfa)
proof = verify(model, dfa)

fig = draw_cascade(cascade, model, title="(a|b)*a(a|b)")

# %%
# The cascade, as SgpDec prints it, and the proof:
print(cascade)
print(f"{model.depth} layers, widest K = {model.width}; proved: {proof.ok} "
      f"({proof.reachable} reachable states)")
