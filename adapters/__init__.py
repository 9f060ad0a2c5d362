"""Adapters: Flipside's ways in and out of the world, apart from the activities that use them.

The SQL record (`store/`: events, read model, queries), the report (`report/`: charts, HTML, CSV), the payload
codec, email (composing, SMTP, the outbox dispatcher), notice channels, the keyed outbox file and signed sign-in
links. Activities, the portal, the CLI and the codec server use them; they import only domain/ (and each other).
"""
