"""Parquet, read one row group at a time in record batches (never the whole file).

Parquet needs random access (its footer comes last), so the reader opens the file itself; the pipeline still
hashes every byte of it through the input stream.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from scanner.data import Document
from scanner.errors import ShardError
from scanner.readers.base import Reader, RecordContext
from scanner.readers.compression import open_raw
from scanner.readers.fields import (
    DEFAULT_DATE_FIELDS,
    DEFAULT_HOST_FIELDS,
    DEFAULT_ID_FIELDS,
    DEFAULT_URL_FIELDS,
    get_path,
    provenance_fields,
)
from scanner.readers.stream import InputStream

log = logging.getLogger("scanner.readers")
BATCH_ROWS = 1024


class ParquetReader(Reader):
    """Rows become records; the text column may be nested (``metadata.text``)."""

    name = "parquet"

    def read_file(self, stream: InputStream, ctx: RecordContext) -> Iterator[Document]:
        with open_raw(stream.source) as handle:
            try:
                pf = pq.ParquetFile(handle)
            except (pa.ArrowException, OSError, ValueError) as exc:
                raise ShardError(stream.source, "unreadable_parquet", f"not a readable Parquet file ({exc})") from exc
            columns = self._columns(pf.schema_arrow.names)
            index = 0
            for group in range(pf.num_row_groups):
                rows = pf.metadata.row_group(group).num_rows
                group_start = index
                try:
                    for batch in pf.iter_batches(batch_size=BATCH_ROWS, row_groups=[group], columns=columns):
                        for record in batch.to_pylist():
                            yield self._record(record, ctx, index)
                            index += 1
                except (pa.ArrowException, OSError, ValueError) as exc:
                    for lost in range(index, group_start + rows):
                        yield ctx.skip(
                            lost,
                            None,
                            "corrupt_row_group",
                            f"row group {group} cannot be decoded ({exc})",
                            quiet=lost != index,
                        )
                    index = group_start + rows

    def _columns(self, names: list[str]) -> list[str]:
        wanted = {self.config.text_field}
        for field in (self.config.id_field, self.config.url_field, self.config.date_field):
            if field:
                wanted.add(field)
        wanted.update(DEFAULT_ID_FIELDS + DEFAULT_URL_FIELDS + DEFAULT_DATE_FIELDS + DEFAULT_HOST_FIELDS)
        tops = {w.split(".")[0] for w in wanted} | wanted
        return [n for n in names if n in tops]

    def _record(self, record: dict[str, Any], ctx: RecordContext, index: int) -> Document:
        cfg = self.config
        rid, url, date, host = provenance_fields(
            record, id_field=cfg.id_field, url_field=cfg.url_field, date_field=cfg.date_field
        )
        text = get_path(record, cfg.text_field)
        if not isinstance(text, str):
            what = "missing" if text is None else f"a {type(text).__name__}, not a string"
            return ctx.skip(
                index,
                None,
                "missing_text_field",
                f"row {index}: text field {cfg.text_field!r} is {what}",
                record_id=rid,
                url=url,
                crawl_date=date,
            )
        if len(text) > cfg.max_record_bytes:
            return ctx.skip(
                index,
                None,
                "record_too_large",
                f"text of {len(text)} characters exceeds the cap of {cfg.max_record_bytes}",
                record_id=rid,
                url=url,
                crawl_date=date,
            )
        if not text.strip():
            return ctx.skip(
                index,
                None,
                "empty_text",
                "text field is empty",
                record_id=rid,
                url=url,
                crawl_date=date,
                quiet=True,
            )
        return ctx.document(index, None, text=text, record_id=rid, url=url, crawl_date=date, host=host)
