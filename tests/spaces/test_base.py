"""edgenas.spaces.base: what every shipped space shares (the text around an arch)."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("space_name,good", [("nb201", "1"), ("macro", "01201201"),
                                             ("fbnet", "-".join(["skip"] * 22))])
def test_only_ascii_blanks_may_surround_an_arch(space_name: str, good: str) -> None:
    from edgenas.errors import ArchError
    from edgenas.spaces import get_space

    space = get_space(space_name)
    want = space.parse(good)
    assert space.parse(f" \t{good}\r\n") == want
    for junk in ("\x1e", "\x1c", "\x85", "\u2028"):  # str.strip() would drop these
        with pytest.raises(ArchError):
            space.parse(junk + good)
