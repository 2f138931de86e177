"""DeltaProduct kernels: PyTorch reference, Triton kernels, the layer module, running constructions."""
