"""What every family's view shares: the app context, read-only model views and the
cache of the bundled ones, a session of models, loading checkpoints, the training
stream and the classifier's reading of a batch. No gradio here.

A view computes what a panel shows (uint8 pictures, plotly figures, markdown) from a
session and the panel's own settings, and raises ``ValueError`` with a readable text for
a bad setting. The UI (``playground.ui``) only validates the shape of what arrives, calls
a view and formats; the CLI, the bench and notebooks call the same views.
"""

from __future__ import annotations

import functools
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Generic, TypeVar

import torch
from torch import Tensor

from models.checks import check_choice, check_int
from models.hub import HubModel
from playground.core import checkpoints, hub_push
from playground.core.data import MnistSplits
from playground.core.jobs import TrainingQueue
from playground.core.metrics import CONFIDENCE, JUDGES, agreed_confident, judge
from playground.core.sessions import DatasetRegistry, SessionRegistry
from playground.core.training import TrainConfig, TrainEvent, train
from playground.views.held import HeldModels

V = TypeVar("V", bound="ModelView")
Progress = Callable[[float, str], None]  # (fraction done in [0, 1], what is being done)


@dataclass(frozen=True)
class Step:
    """One step of a tab's guided tour: a button that sets controls and runs a panel.

    Attributes:
        title: the button's text, an imperative a student understands ("Turn a 4 into a 7").
        text: what to look at once it has run (markdown, two sentences at most).
        tab: the id of the sub-tab the step opens (e.g. ``"vae-edit"``).
        values: {control: value}: the tab's controls (attribute names of its ``Tab``) set
            first; each value must pass the view's own check.
        run: ``"#elem-id"``: the button clicked once the controls are set, or the name of
            one of the tab's ``tour_panels`` redrawn from them; empty: nothing more.
    """

    title: str
    text: str
    tab: str
    values: dict[str, Any] = field(default_factory=dict)
    run: str = ""


@dataclass(frozen=True)
class Card:
    """A family's card on the home tab.

    Attributes:
        title: the family's name.
        kind: where it sits in the taxonomy of generative models, e.g. "explicit density ·
            tractable (autoregressive)" or "implicit density".
        teaches: one line on what it teaches.
        try_first: the "try this first" button's text.
        tab: the id of the sub-tab it opens (the family's play-first view).
        seconds: what that first step takes on 2 CPU cores, in seconds, as measured on the
            development machine (2 cores) when the card was written; shown rounded.
    """

    title: str
    kind: str
    teaches: str
    try_first: str
    tab: str
    seconds: float


@dataclass(frozen=True, eq=False)
class Context:
    """What every view needs from the app: the device models run on, the digits, the
    registry of per-session stop flags (used by the UI's Train and Stop buttons), the
    registry of the datasets sessions chose in "Your data" (``training_data``) and the
    server's training queue (``trainings``: how many train at once, who waits), and what
    sessions may keep in memory (``held``: idle or over-budget sessions' own models are put
    away, and the session is told through ``notify`` when it comes back)."""

    device: torch.device
    data: MnistSplits
    sessions: SessionRegistry = field(default_factory=SessionRegistry)
    datasets: DatasetRegistry = field(default_factory=DatasetRegistry)
    trainings: TrainingQueue = field(default_factory=TrainingQueue)
    held: HeldModels = field(default_factory=HeldModels)
    notify: Callable[[str], None] | None = None  # shows a sentence to the user whose call this is (the UI sets gr.Warning)

    def training_data(self, session: str) -> MnistSplits:
        """The images a training run of ``session`` (a session hash) uses: its chosen dataset, else the digits."""
        return self.datasets.get(session) or self.data


def check_index(name: str, value: Any, n: int) -> int:
    """An index in [0, n - 1] from the UI or the API.

    Raises:
        ValueError: not an integer in range (the message names ``name``).
    """
    return check_int(name, value, 0, n - 1)


NOT_DIGITS = "Sample quality by the digit judges: **not available for this dataset** (they read MNIST digits only)."


def quality_line(images: Tensor, data: MnistSplits | None = None) -> str:
    """The judges' reading of a batch of images (N, 1, 28, 28) in [0, 1] as a markdown line: the agreed-confident
    share (every judge in ``metrics.JUDGES`` p >= 0.9 on the same digit), how many different digits (with counts), and
    each judge's own confident share beside it (one judge alone is easy to please).

    With ``data`` that is not MNIST digits (``data.digits`` False) it says, instead, that
    the judges are not available for this dataset (``NOT_DIGITS``).

    Raises:
        ValueError: bad images (``metrics.judge``).
    """
    if data is not None and not data.digits:
        return NOT_DIGITS
    probs = judge(images).probs
    mask, labels = agreed_confident(probs)
    counts = torch.bincount(labels[mask], minlength=10).tolist()
    shown = ", ".join(f"{d}: {c}" for d, c in enumerate(counts) if c)
    alone = ", ".join(f"{float((p.max(1).values >= CONFIDENCE).float().mean()):.0%}" for p in probs)
    return (
        f"All {len(JUDGES)} judges read **{float(mask.float().mean()):.0%}** of these {len(images)} confidently as the same digit "
        f"(p ≥ {CONFIDENCE:g}; each alone: {alone}), **{sum(c > 0 for c in counts)}** different digits{f' ({shown})' if shown else ''}."
    )


class ModelView:
    """A loaded model with its display name, as a tab shows it; read-only (eval mode,
    never trained further), so sessions share the bundled ones. Subclasses add what they
    compute once (cached properties) and ``describe``.

    ``data`` is the dataset the panels show the model with (its test images, labels):
    the one it was trained on in this session, else the app's digits.
    """

    def __init__(self, model: HubModel, name: str, ctx: Context, data: MnistSplits | None = None):
        self.model, self.name, self.ctx = model.eval(), name, ctx
        self.data = data or ctx.data

    @property
    def data_word(self) -> str:
        """"digit" for the MNIST digits, "image" for any other data."""
        return "digit" if self.data.digits else "image"

    @property
    def trained_on_note(self) -> str:
        """Markdown naming the data the model was trained on ("" for the bundled digits),
        e.g. " · trained on **letters.zip: 180 train / 20 test images**"."""
        return f" · trained on **{self.model.trained_on}**" if self.model.trained_on else ""

    @functools.cached_property
    def export(self) -> Path:
        """The model as a checkpoint zip (made once: a view's model never changes)."""
        return checkpoints.export_zip(self.model, name=f"{self.model.family}-playground", notes=self.describe())

    def describe(self) -> str:
        """One markdown line about the model."""
        raise NotImplementedError


class Session:
    """One browser session's models: a read-only view per slot (e.g. ``"rbm"`` and
    ``"dbn"``), replaced in place by Load, Restore or a finished training run, so that a
    run that holds the session and a Load made meanwhile do not undo each other."""

    def __init__(self, views: dict[str, ModelView]):
        self.views = views

    @property
    def view(self) -> ModelView:
        """The model of the first slot: the one every panel of a one-model tab uses."""
        return next(iter(self.views.values()))


S = TypeVar("S", bound=Session)


class FamilyViews(Generic[S]):
    """The views of one tab: its session (bundled models, loaded, uploaded or trained
    ones) and the checkpoint panel's actions. A family's module subclasses it with the
    computations of its panels.

    Class attributes:
        families: the checkpoint families the tab takes (``config.json``'s ``family``).
        bundled: {slot: bundled checkpoint name} of a new session.
        session_class: the session type (a ``Session`` subclass).
        view_classes: {family: the ``ModelView`` subclass that shows a model of it}.
    """

    families: ClassVar[tuple[str, ...]] = ()
    bundled: ClassVar[dict[str, str]] = {}
    session_class: ClassVar[type] = Session
    view_classes: ClassVar[dict[str, type[ModelView]]] = {}

    def __init__(self, ctx: Context):
        self.ctx = ctx
        self._bundled: dict[str, ModelView] = {}
        self._lock = threading.Lock()

    # -- what a subclass may change ------------------------------------------------------------
    def wrap(self, model: HubModel, name: str) -> ModelView:
        """The read-only view of ``model`` (named ``name``) the panels use."""
        return self.view_classes[model.family](model, name, self.ctx)

    def trains_on(self, model: HubModel, data: MnistSplits | None) -> MnistSplits:
        """The data a run trains ``model`` on: ``data`` (the session's chosen images), else the app's digits; recorded
        in ``model.trained_on`` (``config.json``'s ``"dataset"`` and the model card) unless it is the digits."""
        data = data or self.ctx.data
        model.trained_on = "" if data is self.ctx.data else data.describe()
        return data

    def slot(self, model: HubModel) -> str:
        """The session slot a loaded ``model`` goes to (by default its family).

        Raises:
            ValueError: a model this tab cannot show.
        """
        return model.family

    # -- sessions -------------------------------------------------------------------------------
    def bundled_view(self, name: str) -> ModelView:
        """The view of bundled checkpoint ``name``, loaded once (under a lock) and shared.

        Raises:
            ValueError: (CheckpointError) no such bundled checkpoint of these families.
        """
        with self._lock:
            if name not in self._bundled:
                model = checkpoints.load(name, family=self.families, device=self.ctx.device)
                self._bundled[name] = self.wrap(model, f"bundled `{name}`")
            return self._bundled[name]

    def session(self, state: Any) -> S:
        """The session in ``state`` (a ``gr.State`` value), or a new one on the bundled
        models (a new browser session, or an API client's first call). Each use is recorded
        (``Context.held``): a session whose own models were put away since is told so, once."""
        if isinstance(state, self.session_class):
            notice = self.ctx.held.touch(state, self)
            if notice and self.ctx.notify is not None:
                self.ctx.notify(notice)
            return state
        session = self.session_class({slot: self.bundled_view(name) for slot, name in self.bundled.items()})
        self.ctx.held.touch(session, self)
        return session

    def use(self, session: S, view: ModelView) -> None:
        """Put ``view`` in its slot of ``session`` (in place)."""
        session.views[self.slot(view.model)] = view

    def load(self, session: S, choice: Any, source: Any) -> str:
        """Load the checkpoint a checkpoint panel names into ``session``: ``source`` (a Hub
        repo id or, where folders are allowed, a local folder) when it is not empty, else
        the bundled ``choice``. Returns the name it loaded.

        Raises:
            ValueError: (CheckpointError) it cannot be found or loaded, or the tab cannot
                show it; the session keeps its models.
        """
        source = str(source or "").strip()
        name = source or str(choice or "").strip()
        if not source and name in checkpoints.bundled_names():
            view = self.bundled_view(name)  # the shared one: loading the default again is "bundled"
        else:
            model = checkpoints.load(name, family=self.families, device=self.ctx.device, allow_folders=checkpoints.folders_allowed())
            view = self.wrap(model, f"`{name}`")
        self.slot(view.model)  # refuse what this tab cannot show before changing anything
        self.use(session, view)
        return name

    def load_zip(self, session: S, path: Any) -> None:
        """Load a model from an uploaded checkpoint zip (as "Download this model" gives).

        Raises:
            ValueError: no file, not a safe checkpoint zip, or a checkpoint the tab cannot
                show; the session keeps its models.
        """
        if not path:
            raise ValueError("upload a checkpoint .zip first")
        with tempfile.TemporaryDirectory(prefix="playground-upload-") as folder:
            model = checkpoints.load(str(checkpoints.unpack_zip(path, folder)), family=self.families, device=self.ctx.device, name="the uploaded zip")
        self.slot(model)
        self.use(session, self.wrap(model, "uploaded checkpoint"))

    def restore(self, session: S) -> None:
        """Put the bundled models back into every slot of ``session``."""
        for slot, name in self.bundled.items():
            self.use(session, self.bundled_view(name))

    def describe(self, session: S) -> str:
        """Markdown: one line per model of the session."""
        return "  \n".join(view.describe() for view in self.session(session).views.values())

    def headline(self, session: S) -> str:
        """Plain text for the one-line model bar: "model: vae (bundled)" while every slot
        holds its default, else each slot and its model, e.g. "models: rbm: trained here
        (3 of 10 epochs, seed 0) · dbn (bundled) — not the default (↺ Restore brings it
        back)"."""
        views = self.session(session).views
        default = {slot: view is self._bundled.get(self.bundled.get(slot, "")) for slot, view in views.items()}
        names = [f"{slot} (bundled)" if default[slot] else f"{slot}: {view.name.replace('`', '')}" for slot, view in views.items()]
        plural = "s" if len(names) > 1 else ""
        if all(default.values()):
            return f"model{plural}: {', '.join(views)} (bundled)"
        return f"model{plural}: " + " · ".join(names) + " — not the default (↺ Restore brings it back)"

    def thumbnail(self, session: S) -> Any:
        """What the home tab's card shows of the session's model (a uint8 picture, HxW or
        HxWx3); by default the samples of seed 0."""
        return self.samples(session, 0)  # type: ignore[attr-defined]

    def download(self, session: S, slot: Any = None) -> str:
        """The session's model in ``slot`` (default: the first) as a checkpoint zip (path).

        Raises:
            ValueError: an unknown slot.
        """
        session = self.session(session)
        slots = tuple(session.views)
        slot = slots[0] if slot is None else check_choice("model", slot, slots)
        return str(session.views[slot].export)

    def push(self, session: S, slot: Any, repo_id: Any, token: Any, private: Any = False) -> str:
        """Push the session's model in ``slot`` (None: the first) to the Hub repo ``repo_id`` (``owner/name``) with
        ``token`` (a write token, used for this push only), ``private`` or public: its checkpoint and a card with its
        description (the metrics), the data it learnt from, a command that trains one like it and, for a model that
        draws images, a grid of 64 samples of seed 0 (``hub_push.push``). Returns markdown: "Pushed to <url>".

        Raises:
            ValueError: an unknown slot, a bad repo id or token, or the Hub cannot be reached or refuses the push.
        """
        session = self.session(session)
        view = session.views[next(iter(session.views)) if slot is None else check_choice("model", slot, tuple(session.views))]
        samples, command = hub_push.sample_images(view.model), hub_push.train_command(view.model)
        url = hub_push.push(view.model, repo_id, token, private, notes=view.describe(), samples=samples, command=command)
        return f"Pushed to [{url}]({url})."


# -- training ----------------------------------------------------------------------------------------
def stream_training(
    model: HubModel, data: Any, config: TrainConfig, stop: threading.Event, record: Callable[[TrainEvent], dict],
    every_s: float = 0.3,
) -> Iterator[tuple[TrainEvent, list[dict], bool]]:
    """Run the trainer (``playground.core.training.train``) and pass on ``(event, history,
    learnt)`` every ``every_s`` seconds, at every event with samples, and at the end, for
    a view's training stream to turn into panel updates.

    Args:
        record: turns each event into a ``plots.training_curves`` history entry.

    Yields:
        (the event, the history so far (a list the caller must not change), ``learnt``:
        whether the model holds anything to keep: False only for a run that diverged
        before its first event).
    """
    history: list[dict] = []
    last_yield = 0.0
    n_good = 0
    for event in train(model, data, config, stop=stop):
        history.append(record(event))
        n_good += not event.final
        now = time.perf_counter()
        if event.final or event.samples is not None or now - last_yield >= every_s:
            last_yield = now
            yield event, history, bool(n_good) or event.status != "diverged"


def trained_name(event: TrainEvent, total: int, seed: int, per_unit: int = 1, unit: str = "steps", what: str = "") -> str:
    """The name of a model trained in the app, with the training actually done: e.g.
    "trained here (600 steps, seed 0)", or "(60 of 600 steps, ...)" after a Stop. With
    ``per_unit`` > 1 the count is in ``unit`` (e.g. epochs of ``per_unit`` updates)."""
    done = event.step / per_unit
    done_text = f"{done:,.0f}" if float(done).is_integer() else f"{done:,.1f}"
    if event.step < total * per_unit:
        count = f"{done_text} of {total:,} {unit}"
    else:
        count = f"{done_text} {unit[:-1] if done == 1 and unit.endswith('s') else unit}"
    return f"trained here ({count}{f' {what}' if what else ''}, seed {seed})"


def final_status(event: TrainEvent, learnt: bool, kept: str = "model") -> str:
    """The first sentence of a finished run's status: done, stopped or diverged, and
    whether anything was learnt (else the session keeps its previous ``kept``)."""
    text = f"**{event.status}**: {event.message}."
    if not learnt:
        text += f" Nothing finite was learnt, so your previous {kept} is kept."
    return text


def history_entry(event: TrainEvent, train: dict[str, str], test: dict[str, str] | None = None) -> dict:
    """A ``plots.training_curves`` history entry of ``event``: {curve: loss term} of the
    training losses (``train``) and, at evaluation events, of the test losses (``test``,
    default the same mapping); a term the event lacks is NaN."""
    entry: dict[str, Any] = {"step": event.step, "losses": {k: event.losses.get(v, float("nan")) for k, v in train.items()}}
    if event.test_losses:
        entry["test_losses"] = {k: event.test_losses[v] for k, v in (test or train).items() if v in event.test_losses}
    return entry
