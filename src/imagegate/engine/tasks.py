"""Run each keyed job once, however many callers ask for it while it is in flight."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Hashable, Iterable
from typing import Any, Generic, TypeVar

K = TypeVar("K", bound=Hashable)
T = TypeVar("T")


async def all_or_none(jobs: Iterable[Coroutine[Any, Any, T]]) -> list[T]:
    """Run ``jobs`` concurrently; their results in order. The first failure cancels the
    others (and is raised once they have ended), as does cancelling the caller."""
    tasks = [asyncio.create_task(job) for job in jobs]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


class OnceMap(Generic[K]):
    """``once(key, factory)`` starts ``factory()`` as a task the first time ``key`` is seen
    and returns that same task to every later caller. ``aclose()`` cancels what is left."""

    __slots__ = ("_tasks",)

    def __init__(self) -> None:
        self._tasks: dict[K, asyncio.Task[None]] = {}

    def once(self, key: K, factory: Callable[[], Coroutine[Any, Any, None]]) -> asyncio.Task[None]:
        task = self._tasks.get(key)
        if task is None:
            task = asyncio.create_task(factory())
            self._tasks[key] = task
        return task

    async def aclose(self) -> None:
        """Cancel unfinished tasks and collect every outcome (so none is left unretrieved)."""
        for task in self._tasks.values():
            if not task.done():
                task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks.values(), return_exceptions=True)
