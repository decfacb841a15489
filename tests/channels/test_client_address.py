"""The client's address behind TRUSTED_PROXIES, and the key limits count it by (IPv6 by /64)."""

from __future__ import annotations

from typing import Any

import pytest

from reservations.client_address import UNKNOWN, client_key


def meta(remote: str = "10.0.0.2", forwarded: str | None = None) -> dict[str, str]:
    values = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        values["HTTP_X_FORWARDED_FOR"] = forwarded
    return values


@pytest.mark.parametrize(
    ("proxies", "forwarded", "expected"),
    [
        # No proxy trusted: the header is the client's own say and is never read.
        (0, None, "10.0.0.2"),
        (0, "198.51.100.7", "10.0.0.2"),
        # One proxy: the entry it appended, whatever the client wrote before it.
        (1, None, "10.0.0.2"),
        (1, "198.51.100.7", "198.51.100.7"),
        (1, "192.0.2.1, 198.51.100.7", "198.51.100.7"),
        (1, "192.0.2.1,192.0.2.2,  198.51.100.7 ", "198.51.100.7"),
        # Two proxies (a load balancer, then nginx): the second entry from the right.
        (2, "198.51.100.7, 10.0.0.9", "198.51.100.7"),
        (2, "192.0.2.1, 192.0.2.2, 198.51.100.7, 10.0.0.9", "198.51.100.7"),
        (2, "198.51.100.7", "198.51.100.7"),  # fewer entries than proxies: the first
        # Ports and brackets as proxies write them; IPv4 clients of a dual-stack socket.
        (1, "198.51.100.7:51234", "198.51.100.7"),
        (1, "[2001:db8:1:2::7]:443", "2001:db8:1:2::/64"),
        (0, None, "2001:db8:1:2::/64"),
        (1, "::ffff:198.51.100.7", "198.51.100.7"),
    ],
)
def test_it_reads_the_entry_its_trusted_proxies_wrote(
    proxies: int, forwarded: str | None, expected: str
) -> None:
    remote = "2001:db8:1:2::99" if expected.startswith("2001") and forwarded is None else "10.0.0.2"
    assert client_key(meta(remote, forwarded), trusted_proxies=proxies) == expected


@pytest.mark.parametrize(
    "forwarded",
    [
        "unknown",
        "",
        " , ",
        "198.51.100.7, not-an-address",
        "999.1.1.1",
        "\x00" * 50,
        "1" * 10_000,
        "198.51.100.7, " + "x" * 10_000,
        "𠮷野家",
        "\u202e1.2.3.4",
        "[2001:db8::1",
    ],
)
def test_a_malformed_header_falls_back_to_the_socket_address(forwarded: str) -> None:
    assert client_key(meta("10.0.0.2", forwarded), trusted_proxies=1) == "10.0.0.2"


def test_no_address_at_all_shares_one_key_rather_than_none() -> None:
    assert client_key({}, trusted_proxies=0) == UNKNOWN
    assert client_key(meta("", "garbage"), trusted_proxies=1) == UNKNOWN


def test_it_groups_ipv6_by_64_and_keeps_ipv4_whole() -> None:
    def key(address: str) -> str:
        return client_key(meta(address), trusted_proxies=0)

    assert key("2001:db8:1:2::1") == key("2001:db8:1:2:ffff:ffff:ffff:ffff")
    assert key("2001:db8:1:2::1") != key("2001:db8:1:3::1")
    assert key("fe80::1%eth0") == "fe80::/64"
    assert key("198.51.100.7") != key("198.51.100.8")


def test_it_reads_the_setting(settings: Any) -> None:
    settings.TRUSTED_PROXIES = 1
    assert client_key(meta("10.0.0.2", "192.0.2.1, 198.51.100.7")) == "198.51.100.7"
    settings.TRUSTED_PROXIES = 0
    assert client_key(meta("10.0.0.2", "192.0.2.1, 198.51.100.7")) == "10.0.0.2"
