"""The participant and coordinator portal: FastAPI, server-rendered pages, sign-in by magic link."""
