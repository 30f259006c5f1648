"""Faults injected into real servers: what a crash or a hang must not lose."""
