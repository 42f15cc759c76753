"""The papermill -> Jupyter Book pipeline, the browser check, the Sphinx extension and plotting."""
