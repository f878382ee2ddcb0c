"""Engines that schedule per-op costs: analytic (closed form) and event (simpy)."""
