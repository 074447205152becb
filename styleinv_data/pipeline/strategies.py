"""The crop-strategy registry: how a strategy plugs into ``styleinv-data crop``.

A strategy module calls :func:`register_strategy` at import time::

    register_strategy(
        "ffhq",
        factory=make_ffhq_strategy,          # (options: dict, recipe: CropRecipe) -> CropStrategy
        defaults={"detector": "dlib", "landmarker": "dlib", "jitter_runs": 8},
        flags=[StrategyFlag("--detector", "detector", "face detector backend",
                            type=click.Choice(["dlib", "retinaface"]))],
        discover=None,                       # optional (options, recipe) -> list[VideoTask]
    )

* ``options`` = ``defaults`` updated with the recipe's ``strategies.<name>`` section, then with
  ``--set strategies.<name>.<key>=value`` and the strategy's own flags; keys not in ``defaults``
  are rejected (so ``defaults`` must list every option).
* The factory runs in the worker process, once per video: keep it cheap (cache model loading
  at module level, e.g. ``functools.lru_cache``).
* Modules listed in :data:`BUILTIN_STRATEGY_MODULES` are imported on first use; a recipe's
  ``plugins: [module, ...]`` imports more. An import error is reported only when that strategy
  is asked for.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Sequence

from styleinv_data.pipeline.recipe import RecipeError

if TYPE_CHECKING:
    from styleinv_data.crop.plan import CropStrategy
    from styleinv_data.pipeline.recipe import CropRecipe
    from styleinv_data.pipeline.tasks import VideoTask

StrategyFactory = Callable[[dict[str, Any], "CropRecipe"], "CropStrategy"]
TaskDiscovery = Callable[[dict[str, Any], "CropRecipe"], "list[VideoTask]"]

BUILTIN_STRATEGY_MODULES: tuple[str, ...] = (
    "styleinv_data.pipeline.mask_strategy",
    "styleinv_data.pipeline.box_strategy",
    "styleinv_data.pipeline.ffhq_strategy",
)


@dataclass(frozen=True)
class StrategyFlag:
    """A CLI flag of ``styleinv-data crop`` that sets ``strategies.<name>.<key>``.

    ``type`` is a click type (``str``, ``int``, ``float``, ``click.Choice([...])``, ...);
    ``is_flag=True`` makes a boolean ``--flag/--no-flag`` switch. Two strategies may declare the
    same flag: the value then goes to each of them.
    """

    flag: str
    key: str
    help: str
    type: Any = str
    is_flag: bool = False


@dataclass(frozen=True)
class StrategySpec:
    name: str
    factory: StrategyFactory
    defaults: dict[str, Any] = field(default_factory=dict)
    flags: tuple[StrategyFlag, ...] = ()
    discover: TaskDiscovery | None = None
    description: str = ""


_REGISTRY: dict[str, StrategySpec] = {}
_IMPORT_ERRORS: dict[str, str] = {}
_LOADED: set[str] = set()


def register_strategy(
    name: str,
    factory: StrategyFactory,
    *,
    defaults: dict[str, Any] | None = None,
    flags: Sequence[StrategyFlag] = (),
    discover: TaskDiscovery | None = None,
    description: str = "",
) -> StrategySpec:
    """Register (or replace) strategy ``name``; returns its spec."""
    spec = StrategySpec(name, factory, dict(defaults or {}), tuple(flags), discover, description)
    _REGISTRY[name] = spec
    return spec


def load_strategy_modules(extra: Sequence[str] = ()) -> None:
    """Import the built-in strategy modules and ``extra`` plugin modules (once each)."""
    for module in (*BUILTIN_STRATEGY_MODULES, *extra):
        if module in _LOADED:
            continue
        _LOADED.add(module)
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as e:
            if e.name and module.startswith(e.name) and module not in extra:
                continue  # an optional built-in that is not there (yet)
            _IMPORT_ERRORS[module] = f"{type(e).__name__}: {e}"
        except Exception as e:  # noqa: BLE001 - reported when the strategy is asked for
            _IMPORT_ERRORS[module] = f"{type(e).__name__}: {e}"


def available_strategies(extra_modules: Sequence[str] = ()) -> list[str]:
    load_strategy_modules(extra_modules)
    return sorted(_REGISTRY)


def all_strategy_specs(extra_modules: Sequence[str] = ()) -> list[StrategySpec]:
    load_strategy_modules(extra_modules)
    return [_REGISTRY[k] for k in sorted(_REGISTRY)]


def get_strategy_spec(name: str, extra_modules: Sequence[str] = ()) -> StrategySpec:
    load_strategy_modules(extra_modules)
    if name not in _REGISTRY:
        hint = "; ".join(f"{m}: {err}" for m, err in _IMPORT_ERRORS.items())
        raise RecipeError(
            f"unknown crop strategy {name!r}; available: {', '.join(sorted(_REGISTRY)) or 'none'}"
            + (f" (modules that failed to import: {hint})" if hint else "")
        )
    return _REGISTRY[name]


def resolve_options(spec: StrategySpec, recipe: "CropRecipe") -> dict[str, Any]:
    """``spec.defaults`` updated with the recipe's ``strategies.<name>`` section (unknown keys rejected)."""
    given = recipe.strategy_options(spec.name)
    unknown = sorted(set(given) - set(spec.defaults))
    if unknown:
        raise RecipeError(
            f"strategies.{spec.name}: unknown option(s) {', '.join(unknown)}; allowed: {', '.join(sorted(spec.defaults))}"
        )
    options = dict(spec.defaults)
    options.update(given)
    return options


def build_strategy(recipe: "CropRecipe") -> "CropStrategy":
    """Instantiate the recipe's strategy (in the worker process)."""
    spec = get_strategy_spec(recipe.strategy, recipe.plugins)
    return spec.factory(resolve_options(spec, recipe), recipe)
