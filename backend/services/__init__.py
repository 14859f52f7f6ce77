"""gopy backend: services."""
