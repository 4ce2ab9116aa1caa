"""Settings widgets drawn from the configs' own bounds (`lstm_core.config.Bound`): what a widget can show is
exactly what a link, an import or the command line may set."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st

from lstm_core.config import bound


def _label(cls: type, name: str, text: str | None) -> tuple[str, str | None]:
    b = bound(cls, name)
    return text or b.title or b.label.capitalize(), b.help or None


def number(cls: type, name: str, value: Any, key: str, text: str | None = None, step: Any = None) -> Any:
    """A number input over the field's whole range."""
    b = bound(cls, name)
    label, tip = _label(cls, name, text)
    if b.kind == "int":
        return st.number_input(label, int(b.lo), int(b.hi), int(value), step=step or 1, key=key, help=tip)
    return st.number_input(label, float(b.lo), float(b.hi), float(value), step=step, key=key, help=tip)


def offered(cls: type, name: str, value: Any, key: str, text: str | None = None,
            fmt: Callable[[Any], str] | None = None) -> Any:
    """A slider over the values the field offers, with the current value among them even if it is not one of
    them (a link may set any value within the bounds, and the widget shows it)."""
    b = bound(cls, name)
    label, tip = _label(cls, name, text)
    options = sorted({*b.offer, value})
    return st.select_slider(label, options, value=value, key=key, help=tip, format_func=fmt or str)


def choice(cls: type, name: str, value: Any, key: str, text: str | None = None,
           fmt: Callable[[Any], str] | None = None, options: list | None = None) -> Any:
    """A select box over the field's allowed names (a registry's keys)."""
    label, tip = _label(cls, name, text)
    options = list(options if options is not None else bound(cls, name).allowed())
    return st.selectbox(label, options, index=options.index(value) if value in options else 0, key=key, help=tip,
                        format_func=fmt or str)
