"""``python -m softlattice.book``: the book build command line (see :mod:`softlattice.book.build`)."""

import sys

from softlattice.book.build import main

sys.exit(main())
