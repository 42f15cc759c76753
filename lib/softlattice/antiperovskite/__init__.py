"""Ag3SBr(x)I(1-x): structures, dataset, finite-temperature analysis."""
