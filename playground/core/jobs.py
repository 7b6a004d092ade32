"""The training queue of a shared server: how many runs train at once, who waits, and for how long.

A free Space has 2 CPU cores. Two trainings at once each train at half speed and leave
nothing for the class's sliders, so by default one model trains at a time
(``PLAYGROUND_MAX_TRAININGS``, default 1 with at most 4 cores, else cores / 4) and the
others wait in line, in order of arrival, each told its place and an expected wait. The
line is bounded (``MAX_WAITING``) and a session holds at most one place (running or
waiting) across all tabs, so one visitor cannot fill it.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field

from playground.core.settings import env_number

ENV = "PLAYGROUND_MAX_TRAININGS"
MAX_WAITING = 8  # sessions waiting for a slot at most; one more is told to try again later
FIRST_GUESS_S = 60.0  # the expected length of a run before any has finished
HISTORY = 8  # the expected length of a run is the mean of the last HISTORY runs


def max_trainings() -> int:
    """How many training runs may run at once: ``PLAYGROUND_MAX_TRAININGS`` (an int in [1, 64]),
    default 1 on a machine with at most 4 cores, else cores // 4.

    Raises:
        ValueError: it is set but not an int in [1, 64] (the message names the variable).
    """
    value = env_number(ENV, valid=lambda n: 1 <= n <= 64, must="a whole number of trainings from 1 to 64 (or unset)", integer=True)
    return max(1, (os.cpu_count() or 1) // 4) if value is None else value


@dataclass(eq=False)
class Ticket:
    """One session's place: waiting, then running, then done (``TrainingQueue.join``)."""

    session: str
    label: str
    queue: TrainingQueue
    started: float | None = None  # time.monotonic() when it got its slot
    joined: float = field(default_factory=time.monotonic)

    def wait(self, stop: threading.Event, every_s: float = 0.5) -> Iterator[str]:
        """Wait for a slot, checking every ``every_s`` seconds (or at once when a place is given up);
        yield a sentence with the place and expected wait whenever it changes (nothing when a slot
        is free at once). Returns when this ticket runs, or when ``stop`` is set (then it has left
        the line: ``running`` is False)."""
        said = ""
        while not self.queue._try_start(self):
            if stop.is_set():
                self.queue.leave(self)
                return
            text = self.queue.describe(self)
            if text != said:
                said = text
                yield text
            self.queue._pause(every_s)

    @property
    def running(self) -> bool:
        return self.started is not None

    def done(self) -> None:
        """Leave the queue (a run that ended, or a place given up); frees the slot for the next."""
        self.queue.leave(self)


class TrainingQueue:
    """At most ``max_running`` runs at once; at most ``max_waiting`` sessions in line; one place per session.

    Thread-safe. One is made per app (``Context``), never a module global.
    """

    def __init__(self, max_running: int | None = None, max_waiting: int = MAX_WAITING):
        self.max_running = max_running if max_running is not None else max_trainings()
        self.max_waiting = max_waiting
        self._lock = threading.Lock()
        self._freed = threading.Condition(self._lock)  # notified when a place is given up
        self._running: list[Ticket] = []
        self._waiting: deque[Ticket] = deque()
        self._durations: deque[float] = deque(maxlen=HISTORY)

    def join(self, session: str, label: str) -> Ticket:
        """A place in line for ``session``'s run of ``label`` (e.g. "VAE").

        Raises:
            ValueError: this session already has a run training or waiting (it names which),
                or the line is full.
        """
        with self._lock:
            for ticket in (*self._running, *self._waiting):
                if ticket.session == session:
                    doing = "training" if ticket.running else "waiting to train"
                    raise ValueError(f"this session is already {doing} ({ticket.label}): one training per visitor at a time; press its Stop, or wait for it to finish")
            if len(self._waiting) >= self.max_waiting and len(self._running) >= self.max_running:
                raise ValueError(f"{len(self._waiting)} visitors are already waiting to train on this server; please try again in a few minutes")
            ticket = Ticket(session, label, self)
            self._waiting.append(ticket)
            return ticket

    def _try_start(self, ticket: Ticket) -> bool:
        """Give ``ticket`` a slot if it is first in line and one is free; whether it runs."""
        with self._lock:
            if ticket.running:
                return True
            if self._waiting and self._waiting[0] is ticket and len(self._running) < self.max_running:
                self._waiting.popleft()
                ticket.started = time.monotonic()
                self._running.append(ticket)
                return True
            return False

    def _pause(self, timeout: float) -> None:
        """Sleep until a place is given up, or ``timeout`` seconds."""
        with self._freed:
            self._freed.wait(timeout)

    def leave(self, ticket: Ticket) -> None:
        """Take ``ticket`` out (running or waiting); a finished run's length feeds the expected wait."""
        with self._lock:
            if ticket in self._running:
                self._running.remove(ticket)
                self._durations.append(time.monotonic() - (ticket.started or ticket.joined))
            elif ticket in self._waiting:
                self._waiting.remove(ticket)
            self._freed.notify_all()

    def describe(self, ticket: Ticket) -> str:
        """"Waiting to train: 2nd in line, about 2 min (this server trains 1 model at a time)" for a waiting ticket."""
        with self._lock:
            place = next((i for i, t in enumerate(self._waiting) if t is ticket), 0) + 1
            wait = self._expected_wait(place)
        plural = "s" if self.max_running > 1 else ""
        return (
            f"Waiting to train: **{_ordinal(place)} in line**, about {_duration(wait)} "
            f"(this server trains {self.max_running} model{plural} at a time, so that everyone's sliders stay fast). Stop leaves the line."
        )

    def _expected_wait(self, place: int) -> float:
        """Seconds until the ``place``-th in line starts (lock held): the soonest end of a running
        run, then a mean run per ``max_running`` places ahead."""
        mean = sum(self._durations) / len(self._durations) if self._durations else FIRST_GUESS_S
        now = time.monotonic()
        left = sorted(max(mean - (now - (t.started or now)), 5.0) for t in self._running)
        first = left[0] if len(left) >= self.max_running else 0.0
        return first + math.floor((place - 1) / self.max_running) * mean

    def counts(self) -> tuple[int, int]:
        """(running, waiting) now."""
        with self._lock:
            return len(self._running), len(self._waiting)


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{max(5, round(seconds / 5) * 5):.0f} s"
    return f"{math.ceil(seconds / 60):.0f} min"
