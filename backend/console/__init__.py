"""gopy backend: console."""
