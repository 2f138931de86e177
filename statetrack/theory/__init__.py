"""The theorems as executable checks: exact proofs, spectra, factorizations, finite precision."""
