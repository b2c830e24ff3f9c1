"""Course toolkit for "ML Systems for Efficient AI": grade, verify, package and release assignments."""

__version__ = "0.1.0"
