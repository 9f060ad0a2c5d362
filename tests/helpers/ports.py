"""Loopback ports for the servers a test starts of its own (SMTP, the portal, a dev server, the Temporal UI)."""

import socket


def free_port() -> int:
    """A port nothing listens on now (the system's choice, so two test processes do not pick the same)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def port_open(port: int) -> bool:
    """Whether something listens on the loopback port."""
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0
