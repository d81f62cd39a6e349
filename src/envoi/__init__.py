"""Envoi: prepare, approve, send and measure marketing messages."""

__version__ = "0.1.0"
