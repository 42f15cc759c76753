import os

# Plotly, numpy and the notebooks' kernels share 2 cores with pytest; keep BLAS single-threaded.
os.environ.setdefault("OMP_NUM_THREADS", "1")
