"""The SDK's version, reported in the user agent."""

__version__ = "0.1.0"
