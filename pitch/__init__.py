"""PITCH Explorer: decode Cboe PITCH files into DuckDB and explore them."""

__version__ = "0.1.0"
