"""Finding fields in JSON records (dotted paths into nested objects), with the layouts we know as defaults."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from scanner.config import ReaderConfig
    from scanner.data import Document
    from scanner.readers.base import RecordContext

DEFAULT_URL_FIELDS = ("url", "metadata.url", "metadata.warc_url", "meta.url", "WARC-Target-URI")
DEFAULT_DATE_FIELDS = ("date", "timestamp", "created", "metadata.warc_date", "meta.date")
DEFAULT_ID_FIELDS = ("id", "doc_id", "metadata.warc_record_id")
DEFAULT_HOST_FIELDS = ("subdomain", "domain", "metadata.domain", "host")


def get_path(record: dict[str, Any], path: str) -> Any:
    """``record['a']['b']`` for ``'a.b'``; a key that itself contains dots is tried first."""
    if path in record:
        return record[path]
    node: Any = record
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def first_str(record: dict[str, Any], paths: tuple[str, ...]) -> str | None:
    for path in paths:
        value = get_path(record, path)
        if value is not None and value != "":
            return str(value)
    return None


def looks_like_url(value: str | None) -> bool:
    return bool(value) and str(value).startswith(("http://", "https://"))


def provenance_fields(
    record: dict[str, Any], *, id_field: str | None, url_field: str | None, date_field: str | None
) -> tuple[str | None, str | None, str | None, str | None]:
    """(record id, url, date, host hint) of a JSON record, by the configured fields or the known layouts.

    Dolma/CCNet keep the URL in ``metadata`` (or use it as the ``id``); C4 has ``url`` and ``timestamp``;
    Paloma's C4-100-domains has only a ``subdomain``, used as a host hint for the domain.
    """
    rid = first_str(record, (id_field,) if id_field else DEFAULT_ID_FIELDS)
    url = first_str(record, (url_field,) if url_field else DEFAULT_URL_FIELDS)
    if url is None and url_field is None and looks_like_url(rid):
        url = rid
    date = first_str(record, (date_field,) if date_field else DEFAULT_DATE_FIELDS)
    host = None if url else first_str(record, DEFAULT_HOST_FIELDS)
    return rid, url, date, host


def record_document(
    record: dict[str, Any],
    ctx: RecordContext,
    config: ReaderConfig,
    index: int,
    offset: int | None,
    *,
    line: int | None = None,
    warnings: list[str] | None = None,
) -> Document:
    """The document of one JSON-like record (a JSON Lines object, a Parquet row), or its skip."""
    rid, url, date, host = provenance_fields(
        record, id_field=config.id_field, url_field=config.url_field, date_field=config.date_field
    )
    text = get_path(record, config.text_field)
    reason = message = None
    if not isinstance(text, str):
        what = "missing" if text is None else f"a {type(text).__name__}, not a string"
        reason, message = "missing_text_field", f"text field {config.text_field!r} is {what}"
    elif len(text) > config.max_record_bytes:
        reason = "record_too_large"
        message = f"text of {len(text)} characters exceeds the cap of {config.max_record_bytes}"
    elif not text.strip():
        reason, message = "empty_text", "text field is empty"
    if reason is not None:
        assert message is not None
        return ctx.skip(
            index,
            offset,
            reason,
            message,
            line=line,
            record_id=rid,
            url=url,
            crawl_date=date,
            quiet=reason == "empty_text",
        )
    assert isinstance(text, str)
    return ctx.document(
        index, offset, text=text, line=line, record_id=rid, url=url, crawl_date=date, host=host, warnings=warnings
    )
