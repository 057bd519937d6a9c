"""Orbit map service: relational geometry between the natal charts of 2 to 12 people."""
