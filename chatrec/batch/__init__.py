"""Batch recommendation runs written to recs.*."""
