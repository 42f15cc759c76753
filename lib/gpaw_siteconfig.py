# GPAW build configuration for `make gpaw` (GPAW_CONFIG=lib/gpaw_siteconfig.py pip install gpaw):
# GPAW 26 compiles its C sources as C++, without MPI, against Debian's libxc, OpenBLAS and FFTW.
compiler = 'g++'
mpi = False
libraries = ['xc', 'openblas', 'fftw3']
