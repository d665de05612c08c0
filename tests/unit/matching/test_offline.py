"""The normalisers work with no network and write no cache: tldextract uses its bundled Public Suffix List snapshot,
nicknames and phonenumbers their bundled data, ICU (via normality) its bundled transliteration rules."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

_SCRIPT = r"""
import socket

def refuse(*args, **kwargs):
    raise OSError("network refused by the test")

socket.socket.connect = refuse
socket.socket.connect_ex = refuse
socket.create_connection = refuse
socket.getaddrinfo = refuse

from salesbridge.matching.companies import normalize_company_name
from salesbridge.matching.identifiers import company_domain, normalize_phone, registrable_domain
from salesbridge.matching.names import phonetic_key, same_given_name
from salesbridge.matching.text import fold

print(registrable_domain("https://www.shop.contoso.co.uk/x"), company_domain("j@gmail.com"),
      normalize_phone("+44 (0)20 7946 0958", "ES"), same_given_name("Bob", "Robert"),
      normalize_company_name("Contoso, S.L."), fold("\u0418\u0432\u0430\u043d\u043e\u0432"), phonetic_key("Smith"))
"""


def test_normalisers_use_no_network_and_write_no_cache(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    env = {**os.environ, "HOME": str(home), "XDG_CACHE_HOME": str(home / ".cache")}
    env.pop("TLDEXTRACT_CACHE", None)
    result = subprocess.run(
        [sys.executable, "-c", _SCRIPT], capture_output=True, text=True, env=env, check=False, timeout=120
    )
    assert result.returncode == 0, result.stderr
    # tldextract's default would try to download the list, log the refusal, fall back and cache it under HOME.
    assert "network refused" not in result.stderr
    assert result.stdout.split() == [
        "contoso.co.uk", "None", "+442079460958", "True", "contoso", "ivanov", "SM0"
    ]  # fmt: skip
    assert list(home.rglob("*")) == []
