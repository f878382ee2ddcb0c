"""hwsim.hardware (see docs/architecture.md)."""
