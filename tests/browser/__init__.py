"""The browser layer: Debian's headless Chromium (Playwright) on the report, the portal and the Temporal UI. Every
test here is `slow` (tests/conftest.py marks them so): `make test` runs them, `make test-fast` does not."""
