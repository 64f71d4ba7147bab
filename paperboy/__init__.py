"""Paperboy: a daily arXiv digest for a research group, ranked for each reader."""

__version__ = "0.1.0"
