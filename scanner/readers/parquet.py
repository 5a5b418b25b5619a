"""Parquet, read one row group at a time in record batches (never the whole file).

Parquet needs random access (its footer comes last), so the reader opens the file itself; the pipeline still
hashes every byte of it through the input stream.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

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
    record_document,
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
                            yield record_document(record, ctx, self.config, index, None)
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
