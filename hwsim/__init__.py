"""hwsim: what each neural-network compression technique buys a model on a small device."""

__version__ = "0.1.0"
