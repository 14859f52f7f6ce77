"""gopy backend: workers."""
