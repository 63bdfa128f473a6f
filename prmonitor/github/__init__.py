"""GitHub: the REST client and the pure parsers of its webhook and REST JSON."""
