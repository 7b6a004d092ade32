"""Input components that check what they are sent before Gradio converts it.

Gradio converts an input (``preprocess``) before the handler runs: a Slider compares the
value with its range, a Sketchpad opens its images with PIL. A value a browser never
sends (``"ten"``, ``[]``, ``null`` or NaN for a number; a corrupt, empty, truncated or
huge image) made that conversion fail with an error that names nothing, which a
``gradio_client`` user saw as "The upstream Gradio app has raised an exception". These
subclasses check the value first and raise ``gr.Error`` with a sentence that names the
field by its label (Gradio passes a ``gr.Error`` raised in ``preprocess`` to the page and
to API clients as it is, with ``show_error=False`` too).

The class names are Gradio's own (``Slider``, ``Number``...): the frontend picks a
component's Svelte code by its class name, so these render exactly as Gradio's. A tab
uses ``inputs.Slider(...)`` where it would write ``gr.Slider(...)``.
"""

from __future__ import annotations

import base64
import binascii
import io
import math
import os
import re
import tempfile
import warnings
from pathlib import Path
from typing import Any

import gradio as gr
from gradio.components.image_editor import EditorData
from gradio.data_classes import ImageData
from PIL import Image as PILImage
from pydantic import PrivateAttr, ValidationError, model_validator

from playground.core.drawing import MAX_SIDE

MAX_IMAGE_BYTES = 20 * 2**20  # an upload or drawing larger than this is refused before it is opened
MAX_ECHO = 40  # characters of a refused value quoted back
MAX_QUOTE = 80  # a quotation in any message is cut to this many characters
_QUOTED = re.compile(r"'([^'\n]{%d,})'|\"([^\"\n]{%d,})\"" % (MAX_QUOTE + 1, MAX_QUOTE + 1))
# Folders of the server whose paths a message must not show: the temporary folder (uploads are unpacked there),
# the app's folder and the home folder (caches). Longest first, so the most specific wins.
_SERVER_DIRS = sorted({d for d in (tempfile.gettempdir(), os.environ.get("GRADIO_TEMP_DIR", ""), str(Path(__file__).resolve().parents[2]), str(Path.home())) if len(d) > 3}, key=len, reverse=True)
_SERVER_PATH = re.compile("(?:%s)(?![^/\\s'\",;:)])(?:/[^\\s'\",;:)]*)?" % "|".join(re.escape(d) for d in _SERVER_DIRS))


def shown(value: Any, limit: int = MAX_ECHO) -> str:
    """``repr(value)`` cut to ``limit`` characters (an ellipsis marks the cut), for quoting a user's value in a message."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def public(message: str) -> str:
    """``message`` as a user may see it: no path of the server (an upload's temporary folder says "the uploaded
    file", any other server path "a file on the server") and no quotation over ``MAX_QUOTE`` characters (cut, with an
    ellipsis), whatever a check quoted."""
    message = _SERVER_PATH.sub(lambda m: "the uploaded file" if "playground-upload-" in m.group(0) else "a file on the server", message)
    return _QUOTED.sub(lambda m: f"{m.group(0)[0]}{(m.group(1) or m.group(2))[: MAX_QUOTE - 1]}…{m.group(0)[0]}", message)


class _Checked:
    """The shared part: ``_check(payload)`` runs before Gradio's ``preprocess``; any error
    of either becomes a ``gr.Error`` that starts with the field's name."""

    def _field(self) -> str:
        label = str(getattr(self, "label", None) or getattr(self, "elem_id", None) or "a field")
        return label if len(label) <= 60 else label[:59] + "…"

    def _check(self, payload: Any) -> Any:
        return payload

    def _refusal(self, payload: Any) -> str:
        return f"this value is not accepted here: {shown(payload)}"

    def preprocess(self, payload: Any) -> Any:
        """Gradio's ``preprocess`` after ``_check``.

        Raises:
            gr.Error: the value is not one this field takes; the message names the field.
        """
        try:
            return super().preprocess(self._check(payload))  # type: ignore[misc]
        except gr.Error as err:
            if err.message.startswith(f"{self._field()}: "):
                raise
            raise gr.Error(public(f"{self._field()}: {err.message}")) from None
        except Exception:  # noqa: BLE001 - whatever Gradio's conversion raised, the user is told which field
            raise gr.Error(f"{self._field()}: {self._refusal(payload)}") from None


class _Numeric(_Checked):
    """A number field: a finite int or float (not a bool, a string, a list or null); Gradio then checks its range
    (its message, after the field's name)."""

    def _check(self, payload: Any) -> Any:
        if isinstance(payload, bool) or not isinstance(payload, int | float):
            raise gr.Error(f"{self._field()}: a number is needed here, got {shown(payload)}")
        try:
            finite = math.isfinite(float(payload))
        except OverflowError:
            finite = False
        if not finite:
            raise gr.Error(f"{self._field()}: a finite number is needed here, got {shown(payload)}")
        return payload


class Slider(_Numeric, gr.Slider):
    """``gr.Slider`` whose value is checked first: a finite number in its range, else a ``gr.Error`` naming the slider."""


class Number(_Numeric, gr.Number):
    """``gr.Number`` whose value is checked first: a finite number (never null) in its range, else a ``gr.Error`` naming the box."""


class _Choice(_Checked):
    """One of the field's choices (a list of them for a multiselect menu); null passes where ``may_be_empty``."""

    may_be_empty = True

    def _check(self, payload: Any) -> Any:
        if payload is None and not self.may_be_empty:
            raise gr.Error(f"{self._field()}: one of the choices is needed here, got None")
        if payload is None or getattr(self, "allow_custom_value", False):
            return payload
        values = [value for _, value in self.choices]  # type: ignore[attr-defined]
        chosen = payload if getattr(self, "multiselect", False) and isinstance(payload, list) else [payload]
        for value in chosen:
            if isinstance(value, list | dict) or value not in values:
                listed = ", ".join(map(repr, values[:12])) + (", …" if len(values) > 12 else "")
                raise gr.Error(f"{self._field()}: {shown(value)} is not in the list of choices: {listed}")
        return payload


class Dropdown(_Choice, gr.Dropdown):
    """``gr.Dropdown`` that takes only its choices; anything else is a ``gr.Error`` naming the menu."""


class Radio(_Choice, gr.Radio):
    """``gr.Radio`` that takes only its choices (never null: one is always chosen); anything else is a ``gr.Error`` naming the buttons."""

    may_be_empty = False


class Checkbox(_Checked, gr.Checkbox):
    """``gr.Checkbox`` that takes only true or false; anything else is a ``gr.Error`` naming the box."""

    def _check(self, payload: Any) -> Any:
        if not isinstance(payload, bool):
            raise gr.Error(f"{self._field()}: true or false is needed here, got {shown(payload)}")
        return payload


class Textbox(_Checked, gr.Textbox):
    """``gr.Textbox`` that takes only a string (or null, as empty); anything else is a ``gr.Error`` naming the box."""

    def _check(self, payload: Any) -> Any:
        if payload is not None and not isinstance(payload, str):
            raise gr.Error(f"{self._field()}: text is needed here, got {shown(payload)}")
        return payload


# -- images ----------------------------------------------------------------------------------------------
def _lenient(model: type) -> type:
    """``model`` (a Gradio data model, whose validation runs before ``preprocess``) that turns a value of another
    shape (``"ten"``, ``[]``) into an empty instance marked ``_refused``, so ``preprocess`` can refuse it in words.
    Its JSON schema (the API page's) is ``model``'s."""

    class Lenient(model):  # type: ignore[misc, valid-type]
        model_config = {**model.model_config, "title": model.__name__}
        _refused: bool = PrivateAttr(default=False)

        @model_validator(mode="wrap")
        @classmethod
        def _any_shape(cls, value: Any, handler: Any) -> Any:
            try:
                return handler(value)
            except ValidationError:
                refused = cls.model_construct()
                refused._refused = True
                return refused

    Lenient.__name__ = Lenient.__qualname__ = f"Lenient{model.__name__}"
    return Lenient


def check_image(data: Any, field: str) -> None:
    """Refuse an image file before Gradio decodes it: read its header for the size, then decode it once.

    Args:
        data: a Gradio ``FileData``/``ImageData`` (its ``path``, or its ``url`` as a base64 data URL), bytes (a
            Sketchpad's blob from the browser), or None.
        field: the field's name for the messages.

    Raises:
        gr.Error: the file is empty, over ``MAX_IMAGE_BYTES``, not an image PIL reads, more than ``MAX_SIDE`` pixels
            on a side (a decompression bomb is refused from its header, before any pixel is decoded), truncated or corrupt.
    """
    if data is None:
        return
    path, url = getattr(data, "path", None), getattr(data, "url", None)
    if isinstance(data, bytes | bytearray):
        source: Any = io.BytesIO(data)
    elif path:
        source = path
    elif isinstance(url, str) and url.startswith("data:"):
        try:
            source = io.BytesIO(base64.b64decode(url.partition(",")[2], validate=True))
        except (binascii.Error, ValueError):
            raise gr.Error(f"{field}: the image is not valid base64") from None
    else:
        return  # nothing Gradio would open
    try:
        size = source.getbuffer().nbytes if isinstance(source, io.BytesIO) else _file_size(source, field)
        if size == 0:
            raise gr.Error(f"{field}: the image file is empty")
        if size > MAX_IMAGE_BYTES:
            raise gr.Error(f"{field}: the image file is {size / 2**20:.0f} MB; at most {MAX_IMAGE_BYTES // 2**20} MB, please")
        with warnings.catch_warnings():
            warnings.simplefilter("error", PILImage.DecompressionBombWarning)
            with PILImage.open(source) as image:
                width, height = image.size
                if max(width, height) > MAX_SIDE:
                    raise gr.Error(f"{field}: the image is {width:,} x {height:,} pixels; at most {MAX_SIDE} on a side, please")
                image.load()  # decodes every pixel: a truncated or corrupt file fails here
    except gr.Error:
        raise
    except (PILImage.DecompressionBombError, PILImage.DecompressionBombWarning):
        raise gr.Error(f"{field}: the image has too many pixels (a decompression bomb?); at most {MAX_SIDE} on a side, please") from None
    except PILImage.UnidentifiedImageError:
        raise gr.Error(f"{field}: the file is not an image that can be read (PNG, JPEG, WebP, GIF or BMP)") from None
    except Exception:  # noqa: BLE001 - OSError (truncated), SyntaxError, ValueError, zlib errors... from PIL's decoders
        raise gr.Error(f"{field}: the image is corrupt or truncated") from None


def _file_size(path: str, field: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        raise gr.Error(f"{field}: the uploaded image could not be found on the server; upload it again") from None


class Image(_Checked, gr.Image):
    """``gr.Image`` (an upload) whose file is checked (``check_image``) before Gradio decodes it."""

    data_model = _lenient(ImageData)

    def _check(self, payload: Any) -> Any:
        if getattr(payload, "_refused", False):
            raise gr.Error(f"{self._field()}: {self._refusal(payload)}")
        check_image(payload, self._field())
        return payload

    def _refusal(self, payload: Any) -> str:
        return "this is not an image upload"


class Sketchpad(_Checked, gr.Sketchpad):
    """``gr.Sketchpad`` whose images (background, layers, composite) are checked (``check_image``) before Gradio
    decodes them."""

    data_model = _lenient(EditorData)

    def _check(self, payload: Any) -> Any:
        if payload is None:
            return payload
        if getattr(payload, "_refused", False):
            raise gr.Error(f"{self._field()}: {self._refusal(payload)}")
        images = [getattr(payload, "background", None), *(getattr(payload, "layers", None) or []), getattr(payload, "composite", None)]
        blobs = self.blob_storage.get(payload.id) if getattr(payload, "id", None) else None  # what the browser sent beforehand
        if blobs is not None:
            images += [blobs.background, *(blobs.layers or []), blobs.composite]
        for data in images:
            check_image(data, self._field())
        return payload

    def _refusal(self, payload: Any) -> str:
        return "this is not a drawing (a dict with the images background, layers and composite)"

    # gr.Sketchpad is a template of gr.ImageEditor, named by its base class; ours has _Checked first among its bases.
    def get_block_name(self) -> str:
        """The frontend's component, as gr.Sketchpad's: "imageeditor"."""
        return gr.ImageEditor.__name__.lower()

    def get_block_class(self) -> str:
        """The class named in the app's config (and so on the API page), as gr.Sketchpad's: "imageeditor"."""
        return gr.ImageEditor.__name__.lower()
