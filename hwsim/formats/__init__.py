"""hwsim.formats (see docs/architecture.md)."""
