"""hwsim.kernels (see docs/architecture.md)."""
