"""gopy backend: domain."""
