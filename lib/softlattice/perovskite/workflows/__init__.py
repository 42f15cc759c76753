"""One module per chapter of the MA/FA study."""
