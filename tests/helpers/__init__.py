"""What the tests share, one module a subject. Test files import from here, never from one another.

- harness: one test's worker, task queue and data folder; ending what a test left running
- servers: the Temporal servers tests run on, and keeping a shared one healthy
- processes: real processes (`temporal server start-dev` on a file, `python worker.py`) to stop, kill and restart
- ports, waiting: free loopback ports; polling until a condition holds, with a bound
- queries: watching the queries a client sends (by name, and whether one was refused)
- databases: a PostgreSQL schema of a test's own
- people, prompts: the coordinator, program specs, rosters and pairing terms; a prompt as a workflow opens it
- programs: starting a program and reading it (status, members, pairings), as a test or as an operator does
- driving: people answering what their notices ask, on the time-skipping server or in real time
- durability: participants who keep answering through outages, and what the record must show afterwards
- failures: failures a test puts into a worker
- smtp, portal, browser: a real SMTP server that keeps what it receives; the portal in-process with a person's
  browser over ASGI; Chromium for the browser tests
- record: reading the program record (events numbered once, a pairing's row in the read model)
- meetings: where a meeting falls in a person's working day
- short_runs: a program workflow that continues as new every 60 events, to see handovers in a small program
- replaying, report_record, matching, bad_input: recorded histories replayed on today's code; a program record
  with figures worked out by hand; the brute-force oracle of stable self-selection; bad input of every kind
"""

from pathlib import Path

# The repository. Not Path.resolve(): a workflow defined under tests/helpers (short_runs) imports this package
# inside the workflow sandbox, which forbids it; a module's __file__ is absolute already.
ROOT = Path(__file__).parents[2]
