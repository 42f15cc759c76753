"""Electronic structure from DFT: band edges and band gaps."""
