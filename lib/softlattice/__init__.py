"""softlattice: the helper package of the soft-lattice compendium.

Modules
-------
molecules   A-site cations (MA, FA, Cs): geometry and orientation
tilts       Glazer tilt patterns: parsing, construction through M/R-mode displacements, measurement
structures  perovskite builders: cubic cells, supercells, tilts, random MA/FA substitution
plotting    plotly figures for structures, and the renderer used by the book
book        the papermill -> Jupyter Book pipeline (``python -m softlattice.book``)
browsercheck  loads a built page in headless Chromium and checks that its figures drew
"""

__version__ = "0.1.0"
