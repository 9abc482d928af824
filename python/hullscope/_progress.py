"""Optional tqdm progress bars; library code never prints."""
from __future__ import annotations

import logging
from contextlib import contextmanager
from typing import Iterator, Optional

log = logging.getLogger(__name__)


class _NullBar:
    def update(self, n: int = 1) -> None:
        pass

    def set_postfix_str(self, s: str) -> None:
        pass

    def close(self) -> None:
        pass


@contextmanager
def progress_bar(enabled: bool, total: Optional[int], desc: str, unit: str = "it") -> Iterator[object]:
    """Yield a tqdm bar when ``enabled`` and tqdm is installed, else a no-op bar."""
    bar: object = _NullBar()
    if enabled:
        try:
            from tqdm.auto import tqdm
            bar = tqdm(total=total, desc=desc, unit=unit, leave=False)
        except ImportError:
            log.warning("progress=True needs tqdm: pip install tqdm")
    try:
        yield bar
    finally:
        bar.close()  # type: ignore[attr-defined]
