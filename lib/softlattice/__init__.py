"""softlattice: the helper package of the soft-lattice compendium.

The folder names are the architecture (see ``README.md`` beside this file):

infra           paths, provenance, profiles, content keys, result sets, K/N shares
md              MD engine for any material and ASE calculator, NEP calculators, GPUMD, task runner
models          reference methods, NEP training, active learning, fine-tuning, band-gap GNN, metrics
analysis        damped oscillators, spectra, phonons
electronic      band edges and band gaps from DFT
perovskite      MA(1-x)FA(x)PbI3; ``perovskite.workflows`` has one module per chapter (00-05)
antiperovskite  Ag3SBr(x)I(1-x); ``antiperovskite.workflows`` has one module per chapter (06-07)
book            the papermill -> Jupyter Book pipeline, browser check, plotting
"""

__version__ = "0.1.0"
