"""gopy backend: api routes."""
