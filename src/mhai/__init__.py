"""mhai: a reproducible study of an AI mental-health support system."""

__version__ = "0.1.0"
