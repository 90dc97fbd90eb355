"""Schema, engines, migrations and the data-access functions both processes share.

Every data function is synchronous and takes a SQLAlchemy Connection first. The worker
calls them directly; the web process runs each one whole on a database thread
(web/database.py), so each query is written once.
"""
