"""gopy backend: db."""
