"""Every side effect of Flipside: notices, the event record, matching runs and metric snapshots."""
