"""Bulk issuance: FF1 serials rendered into codes without per-code Python."""
from .issuer import Issuer

__all__ = ["Issuer"]
