"""hwsim.report (see docs/architecture.md)."""
