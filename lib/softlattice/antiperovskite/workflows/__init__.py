"""One module per chapter of the antiperovskite study."""
