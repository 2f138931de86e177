"""What every kernel folder shares: Triton's import and interpreter choice (:mod:`.triton`),
input checks that name the bad argument (:mod:`.checks`), the tolerance table keyed by dtype
(:mod:`.tolerances`), and device and dtype resolution (:mod:`.device`).

Nothing is imported here: :mod:`statetrack.kernels` imports :mod:`.triton` before anything
else imports Triton.
"""
