"""Molecular dynamics for any material and any ASE calculator: engine, calculators, GPUMD."""
