"""hwsim.analysis (see docs/architecture.md)."""
