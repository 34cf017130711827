"""The one redactor of URLs shown to a person: a password after ``user:`` and the value of
every credential-looking query parameter become ``***``.

Used by every place that shows a URL: ``config set|get|show``, catalog messages, ``clusters``
and ``status``, doctor's results (text, ``--json``) and the final scrub of ``doctor --bundle``.
"""

from __future__ import annotations

import re

__all__ = ["hide_passwords", "hide_query_secrets"]

# The password runs to the last '@' before the path: a raw '@' in it is the password's own.
_URL_PASSWORD = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://[^/\s:@]*:)[^\s/]*@")


# A query parameter whose value is a credential: tokens, passwords, presigned-URL signatures
# (S3 X-Amz-*, GCS X-Goog-*, Azure SAS sig/sv/se/sp/...), OAuth codes. Its value runs to the
# next '&', '#', quote, bracket or blank.
_SECRET_QUERY = re.compile(
    r"(?i)([?&;](?:[\w.~%-]*(?:token|secret|passw|signature|credential|api[_-]?key|auth|"
    r"session)[\w.~%-]*|sig|key|code|pwd|jwt|hmac|sv|se|sp|st|sr|srt|ss|spr|si|sip|skoid|"
    r"sktid|skt|ske|sks|skv|x-amz-[\w-]+|x-goog-[\w-]+)=)[^&#\s'\"<>]+"
)


def hide_passwords(text: str) -> str:
    """``text`` with the password of every ``scheme://user:password@`` replaced by ``***``
    (for a break-glass proxy URL shown anywhere but the break-glass route itself), and the
    value of every credential-looking query parameter (``?token=``, ``&X-Amz-Signature=``,
    an Azure SAS's ``sig=``...) too: the one redactor every URL shown to a person goes
    through."""
    if "@" in text:
        text = _URL_PASSWORD.sub(r"\1***@", text)
    return hide_query_secrets(text)


def hide_query_secrets(text: str) -> str:
    """``text`` with the value of every credential-looking query parameter replaced by
    ``***`` (a presigned catalog URL is a fine setting, but its signature is a secret)."""
    return _SECRET_QUERY.sub(r"\1***", text) if "=" in text else text
