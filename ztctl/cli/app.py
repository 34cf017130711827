"""The one object every command receives: global options, config, catalog, consoles.

Everything is computed on first use, so a command that needs neither the catalog nor a
rich console (``ztctl credential``, ``ztctl --version``) pays for neither.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from ztctl.errors import InvalidInput

if TYPE_CHECKING:
    from rich.console import Console

    from ztctl.core.config import Config
    from ztctl.core.model import Catalog, Cluster


@dataclass
class App:
    config_option: str | None = None
    catalog_option: str | None = None
    catalog_on_command_line: bool = False  # --catalog given (not ZTCTL_CATALOG): login saves it
    kubeconfig: str | None = None
    verbose: int = 0
    quiet: bool = False
    no_color: bool = False
    no_input: bool = False
    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    json: bool = False  # set by a command's --json flag
    _catalog: Catalog | None = field(default=None, init=False, repr=False)

    @cached_property
    def config(self) -> Config:
        from ztctl.core import config as config_mod

        return config_mod.load_config(
            config_mod.config_path(self.config_option, self.env), self.env
        )

    @cached_property
    def state_dir(self) -> Path:
        from ztctl.core import paths

        return paths.state_dir(self.env)

    @property
    def interactive(self) -> bool:
        """Whether ztctl may prompt or open a browser."""
        return not self.no_input and sys.stdin.isatty()

    @property
    def catalog_source(self) -> str | None:
        return self.catalog_option or self.config.catalog

    def catalog(self) -> Catalog:
        """The validated catalog; warnings about it go to stderr once."""
        if self._catalog is None:
            from ztctl.core.catalog import load_catalog

            source = self.catalog_source
            if not source:
                raise InvalidInput(
                    "no cluster catalog is configured",
                    "run `ztctl login --catalog PATH|URL` (saved to "
                    f"{self.config.path} once login succeeds) or `ztctl config set catalog "
                    "PATH|URL`; or pass --catalog (ZTCTL_CATALOG)",
                )
            # The state dir (and platformdirs) only matters for a URL's cache.
            catalog = load_catalog(source, lambda: self.state_dir, self.env)
            for warning in catalog.warnings:
                self.warn(warning)
            self._catalog = catalog
        return self._catalog

    def cluster(self, name: str) -> Cluster:
        """The catalog cluster ``name``, or an error that suggests the closest name."""
        from ztctl.core.suggest import did_you_mean

        catalog = self.catalog()
        found = catalog.get(name)
        if found is None:
            names = catalog.names
            raise InvalidInput(
                f"no cluster named {name!r} in the catalog{did_you_mean(name, names)}",
                "run `ztctl clusters` to list them" if names else "add it to the catalog",
            )
        return found

    @cached_property
    def out(self) -> Console:
        """stdout: data only."""
        return self._console(stderr=False)

    @cached_property
    def err(self) -> Console:
        """stderr: progress, warnings, logs."""
        return self._console(stderr=True)

    def _console(self, *, stderr: bool) -> Console:
        from rich.console import Console

        from ztctl.cli.output import unguarded

        # rich draws its own escape codes, so it writes under the terminal guard: whatever
        # it is handed from the data must be escaped first (output.terminal_text).
        return Console(
            file=unguarded(sys.stderr if stderr else sys.stdout),
            stderr=stderr,
            markup=False,
            highlight=False,
            no_color=self.no_color,
            emoji=False,
            soft_wrap=not stderr,
        )

    # The one way a command tells the user something on the side: warn, info, debug.
    def warn(self, message: str) -> None:
        if not self.quiet:
            self._note(f"warning: {message}", "warning")

    def info(self, message: str) -> None:
        if not self.quiet:
            self._note(message, None)

    def debug(self, message: str) -> None:
        if self.verbose:
            self._note(message, "debug")

    def _note(self, text: str, style: str | None) -> None:
        """One line on stderr: styled on a colour terminal, plain (never wrapped) otherwise."""
        from ztctl.cli.palette import stderr_palette

        paint = stderr_palette(self)
        sys.stderr.write((paint(text, style) if style else text) + "\n")
        sys.stderr.flush()

    def exit(self, code: int) -> NoReturn:
        """End the command with exit ``code``: the one way a command sets a non-zero code
        (errors raise a :class:`ZtctlError` instead). ``cli.main`` maps it to the process's
        exit status."""
        import click

        sys.stdout.flush()
        raise click.exceptions.Exit(code)


def no_color_from_env(env: Mapping[str, Any]) -> bool:
    """NO_COLOR (no-color.org): any non-empty value turns colour off."""
    return bool(env.get("NO_COLOR"))
