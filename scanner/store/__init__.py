"""The results store of a scan: ``docs/<shard>.parquet``, ``hits/<shard>.parquet`` and ``manifest.json``.

The layout is a contract (see docs/output-format.md): later stages add columns, never rename them.
"""
