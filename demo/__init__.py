"""The demo program of `make run`: a spec, a roster and simulated participants who answer their prompts."""
