"""Pure domain of Flipside: models and rules of reverse mentoring programs.

Nothing here does I/O or imports Temporal, so workflows can pass it through the sandbox and tests can use it
without a server.
"""
