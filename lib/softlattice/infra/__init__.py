"""Shared infrastructure: paths, provenance, profiles, logging, content keys and result sets."""
