"""``python -m edgenas``: the same CLI as the ``edgenas`` command."""

from .cli import main

main()
