"""Material-independent analysis: spectra, phonons, damped oscillators, statistics."""
