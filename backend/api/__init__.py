"""gopy backend: api."""
