"""The version of wheelcache."""

__version__ = "0.1.0"
