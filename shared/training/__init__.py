"""The training domain: scoring replies, deciding when a session is over, the
end-of-session report, the Markdown transcript and per-scenario statistics.

Plain functions only; nothing here touches the web layer, the queue or the database.
"""
