"""The SQL program record: the event log, its projections and the queries reports read."""
