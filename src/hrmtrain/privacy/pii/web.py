"""Network identifiers: IP addresses (v4 and v6, checked by `ipaddress`), URLs, and social handles.

A URL in a household's mail or notes is most often a person's own (a booking page, a blog, a photo
album, a profile: ``https://calendly.com/jane-doe/30min``, ``github.com/janedoe``), so every URL is
redacted, with or without a scheme; a bare domain counts when it ends in a common top-level domain and
is not the domain of an e-mail address (e-mails win the overlap in redact.py). ``@handle`` is a handle
where it is not part of an e-mail address.
"""

from __future__ import annotations

import ipaddress
import re

_TLDS = ("com|org|net|io|me|co|info|biz|dev|app|blog|page|site|online|website|family|name|social|photo|"
         "photos|studio|art|design|eu|uk|us|de|es|at|ch|fr|it|nl|ie|ca|au|nz|cat|gal|eus|tv|fm|ly|gl|link|"
         "xyz|club|shop|store")
_HOST = rf"(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)+(?:{_TLDS})(?:\.(?:uk|es|de|au|nz|at))?"
_PATH = r"(?:[/?#][^\s<>\"'()\[\]{}]*)?"
URL_RE = re.compile(
    rf"(?i)(?:\b(?:https?|ftp)://[^\s<>\"'\[\]{{}}]+"           # any scheme'd URL
    rf"|(?<![\w@.-])www\.[^\s<>\"'\[\]{{}}]+"                   # www.anything
    rf"|(?<![\w@.-]){_HOST}{_PATH}(?![\w@-]))"                # jane-doe.photos, github.com/janedoe
)
HANDLE_RE = re.compile(r"(?<![\w.@/])@[A-Za-z0-9_](?:[A-Za-z0-9_.]{1,29}[A-Za-z0-9_])(?![\w@-]|\.[A-Za-z])")
IPV4_RE = re.compile(r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?:/\d{1,2})?(?![\w]|\.\d)")
IPV6_RE = re.compile(r"(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:[0-9A-Fa-f]{0,4}|(?:\d{1,3}\.){3}\d{1,3})(?:/\d{1,3})?(?![\w:])")
_TRAIL = ".,;:!?)]}'\""


def find(text: str) -> list[tuple[int, int, str, str]]:
    out: list[tuple[int, int, str, str]] = []
    if "." in text or ":" in text:
        for m in URL_RE.finditer(text):
            s, e = m.span()
            while e > s and text[e - 1] in _TRAIL:
                if text[e - 1] == ")" and text[s:e].count("(") >= text[s:e].count(")"):
                    break  # a balanced parenthesis belongs to the URL (wiki links)
                e -= 1
            if e > s and not text[s:e].replace(".", "").isdigit():
                out.append((s, e, "URL", "url"))
        for m in IPV4_RE.finditer(text):
            try:
                ipaddress.ip_network(m.group(), strict=False) if "/" in m.group() else ipaddress.IPv4Address(m.group())
            except ValueError:
                continue
            out.append((m.start(), m.end(), "IP_ADDRESS", "ipv4"))
        for m in IPV6_RE.finditer(text):
            v = m.group()
            # times ("10:30:00") and ratios are not addresses: need '::' or all eight groups, and a hex letter or '::'
            if "::" not in v and v.count(":") < 7:
                continue
            try:
                ipaddress.ip_network(v, strict=False) if "/" in v else ipaddress.IPv6Address(v)
            except ValueError:
                continue
            out.append((m.start(), m.end(), "IP_ADDRESS", "ipv6"))
    if "@" in text:
        for m in HANDLE_RE.finditer(text):
            out.append((m.start(), m.end(), "URL", "handle"))
    return out
