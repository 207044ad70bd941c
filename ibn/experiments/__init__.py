"""Experiment logic shared by the book's notebooks (one module per paper section)."""
