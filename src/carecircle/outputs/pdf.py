"""The briefing as PDF, printed by headless Chromium.

Why Chromium: the briefing is an HTML page made to print (``@page`` A4, page breaks
before each appendix, table headers repeated on every page, the page number in the
margin), with Chinese text, and Chromium lays it out exactly as the meeting's browser
shows it.  It is already the project's browser for the tests (``make test`` installs
Debian's ``chromium``), so the PDF needs no new Python dependency; WeasyPrint would
add Pango and its own CSS engine (a second layout to keep in step), and a PDF library
such as ReportLab would mean drawing the page a second time by hand.

How: ``chromium --headless --print-to-pdf`` on the briefing file, with a fresh profile
in a temporary folder, no network (every host resolves to nothing, so the page can
fetch nothing), no header or footer of Chromium's own, and a time limit.  The PDF is
not tagged (``--disable-pdf-tagging``): a tag per table cell made a city's briefing 21
MB instead of 2.8 MB and slower to print; the HTML page is the accessible version.  Running as
root (a container) needs ``--no-sandbox``, which is added only then: the page is the
run's own, with every input text escaped, and nothing can be fetched.

When no Chromium is found (``CARECIRCLE_CHROMIUM``, then ``chromium``,
``chromium-browser``, ``google-chrome``, ``google-chrome-stable`` on the PATH) or it
fails, :func:`print_pdf` raises :class:`PdfUnavailable` saying why; a run then goes on
without the PDF and says so.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from carecircle.errors import CarecircleError

__all__ = ["CHROMIUM_NAMES", "PdfUnavailable", "find_chromium", "pdf_page_sizes", "print_pdf"]

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


class PdfUnavailable(CarecircleError):
    """No PDF could be printed; the message says why and what to install."""


def find_chromium() -> str | None:
    """The Chromium executable: ``$CARECIRCLE_CHROMIUM`` if set, else the first of
    :data:`CHROMIUM_NAMES` on the PATH, else ``None``."""
    given = os.environ.get("CARECIRCLE_CHROMIUM")
    if given:
        return given if Path(given).is_file() or shutil.which(given) else None
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


def print_pdf(html: str | Path, pdf: str | Path, *, timeout_s: float = 300.0,
              chromium: str | None = None) -> Path:
    """Print an HTML file to PDF with headless Chromium (A4 from the page's ``@page``).

    Parameters
    ----------
    html
        The page (a local file).
    pdf
        The PDF to write.
    timeout_s
        Give up after this many seconds.
    chromium
        The executable (default :func:`find_chromium`).

    Returns
    -------
    Path
        ``pdf``.

    Raises
    ------
    PdfUnavailable
        No Chromium, or it failed or timed out: the message says which.
    """
    exe = chromium or find_chromium()
    if exe is None:
        raise PdfUnavailable(
            "no Chromium found 未找到Chromium: install it (apt-get install chromium) or set "
            "CARECIRCLE_CHROMIUM to its path")
    out = Path(pdf).resolve()
    out.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory(prefix="cc-pdf-") as profile:
        cmd = [exe, "--headless", "--disable-gpu", "--no-first-run", "--no-default-browser-check",
               "--disable-extensions", "--disable-background-networking", "--disable-sync",
               "--disable-dev-shm-usage", "--mute-audio", "--hide-scrollbars",
               "--host-resolver-rules=MAP * ~NOTFOUND", f"--user-data-dir={profile}",
               "--no-pdf-header-footer", "--disable-pdf-tagging", f"--print-to-pdf={out}",
               Path(html).resolve().as_uri()]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            cmd.insert(1, "--no-sandbox")  # Chromium refuses to run as root otherwise
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, check=False)
        except subprocess.TimeoutExpired:
            raise PdfUnavailable(f"Chromium did not finish printing within {timeout_s:g} s "
                                 "打印超时") from None
        except OSError as exc:
            raise PdfUnavailable(f"Chromium ({exe}) could not start 无法启动: {exc}") from None
    if done.returncode != 0 or not out.is_file() or out.stat().st_size == 0:
        tail = (done.stderr or "").strip().splitlines()[-1:] or [""]
        raise PdfUnavailable(f"Chromium ({exe}) failed to print 打印失败 (exit {done.returncode}): "
                             f"{tail[0][:300]}")
    return Path(pdf)


def pdf_page_sizes(data: bytes) -> list[tuple[float, float]]:
    """Width and height (points) of every page of a PDF, read from its page objects.

    A small reader for the PDFs Chromium writes (page objects uncompressed, each with its
    own ``/MediaBox``): enough to count pages and check their size, without a PDF
    library.

    Parameters
    ----------
    data
        The PDF's bytes.

    Returns
    -------
    list of (width, height)
    """
    import re

    sizes = []
    for m in re.finditer(rb"/Type\s*/Page(?![a-zA-Z])", data):
        body = data[data.rfind(b" obj", 0, m.start()):data.find(b"endobj", m.end())]
        box = re.search(rb"/MediaBox\s*\[\s*([-\d.]+)\s+([-\d.]+)\s+([-\d.]+)\s+([-\d.]+)\s*\]", body)
        if box:
            x0, y0, x1, y1 = (float(v) for v in box.groups())
            sizes.append((x1 - x0, y1 - y0))
    return sizes
