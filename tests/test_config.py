"""Training recipes: defaults, the shipped recipes, each section's value checks."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from livegen.config import TrainConfig, load_config
from livegen.recipe import ConfigError, to_dict

REPO = Path(__file__).resolve().parent.parent
RECIPES = [
    "folk_melody",
    "chorale_poly",
    "jsb_pianoroll",
    "bl2012_poly_jsb",
    "bl2012_poly_piano",
    "piano_poly",
    "style_poly",
    "style_poly_piano",
    "tiny",
]


def write(tmp_path: Path, text: str, name: str = "recipe.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_defaults():
    cfg = load_config(None, [])
    assert cfg == TrainConfig()
    assert cfg.data.source == "essen-erk" and cfg.data.transpose == 5 and cfg.data.limit is None
    assert cfg.codec.name == "melody" and cfg.codec.params == {}
    assert (cfg.model.n_layer, cfg.model.n_hidden, cfg.model.n_embd) == (2, 256, 64)
    assert cfg.train.lr == 2e-3 and cfg.train.amp is True and cfg.train.device == "auto"
    assert cfg.train.out == "runs/run"


def test_yaml_preset(tmp_path):
    path = write(
        tmp_path,
        """
data:
  source: bach
  limit: 10
codec:
  name: melody
  params: {ticks_per_quarter: 2}
model:
  n_hidden: 32
train:
  lr: 1e-3        # YAML 1.1 would read this as a string
  warmup_steps: 0
""",
        name="folk_small.yaml",
    )
    cfg = load_config(path, [])
    assert cfg.data.source == "bach" and cfg.data.limit == 10
    assert cfg.codec.params == {"ticks_per_quarter": 2}
    assert cfg.model.n_hidden == 32 and cfg.model.n_layer == 2  # untouched keys keep defaults
    assert cfg.train.lr == pytest.approx(1e-3) and isinstance(cfg.train.lr, float)
    assert cfg.train.name == "folk_small" and cfg.train.out == "runs/folk_small"


@pytest.mark.parametrize("recipe", RECIPES)
def test_shipped_recipes_load(recipe):
    cfg = load_config(REPO / "configs" / f"{recipe}.yaml", [])
    assert cfg.train.name == recipe


def test_the_shipped_piano_recipe_is_the_benchmark_recipe_under_its_own_name():
    shipped = to_dict(load_config(REPO / "configs" / "piano_poly.yaml", []))
    bench = to_dict(load_config(REPO / "configs" / "bl2012_poly_piano.yaml", []))
    assert shipped["train"].pop("name") == "piano_poly"
    assert shipped["train"].pop("out") == "runs/piano_poly"
    del bench["train"]["name"], bench["train"]["out"]
    assert shipped == bench


SHIPPED = sorted(p.stem for p in (REPO / "checkpoints").glob("*.pt"))


@pytest.mark.parametrize("name", SHIPPED)
def test_each_shipped_model_was_made_by_its_recipe(name):
    """Every setting a shipped checkpoint was trained with is what configs/NAME.yaml says:
    a change to a recipe (or its base) that would make another model fails here."""
    import json

    import torch

    stored = torch.load(REPO / "checkpoints" / f"{name}.pt", weights_only=True)["config"]
    recipe = to_dict(load_config(REPO / "configs" / f"{name}.yaml", ["--train.threads=1"]))
    recipe = json.loads(json.dumps(recipe))  # tuples as the checkpoint stores them: lists
    differ = {
        f"{section}.{key}": (value, recipe[section].get(key))
        for section, keys in stored.items()
        for key, value in keys.items()
        if recipe[section].get(key) != value
        and f"{section}.{key}" not in ("train.name", "train.out")
    }
    assert not differ, differ
    # piano_poly is the BL2012 benchmark checkpoint itself, so it kept that run's name.
    assert stored["train"]["name"] == {"piano_poly": "bl2012_poly_piano"}.get(name, name)


def test_name_and_out():
    cfg = load_config(None, ["--train.name=2024"])  # a str field takes the text as typed
    assert cfg.train.name == "2024" and cfg.train.out == "runs/2024"
    cfg = load_config(None, ["--train.name=x", "--out=/tmp/elsewhere"])
    assert cfg.train.out == "/tmp/elsewhere"


@pytest.mark.parametrize(
    "arg, key",
    [
        ("--schedule=linear", "train.schedule"),
        ("--dropout=1.5", "model.dropout"),
        ("--lead_in=-1", "data.lead_in"),
        ("--step_quarters=0", "data.step_quarters"),
    ],
)
def test_invalid_value(arg, key):
    with pytest.raises(ConfigError, match=key):
        load_config(None, [arg])


def test_unknown_codec(tmp_path):
    with pytest.raises(ConfigError, match="banjo"):
        load_config(write(tmp_path, "codec:\n  name: banjo\n"), [])


def test_frozen():
    cfg = load_config(None, [])
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.train.lr = 1.0  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.model = None  # type: ignore[misc]


@pytest.mark.parametrize(
    "data, words",
    [
        ({"styles": {"a": "bach"}, "parts": {"yours": ["S"]}}, "cannot be combined with parts"),
        ({"styles": {"a": 3}}, "map each style name to a source"),
        ({"styles": {}}, "map each style name to a source"),
        ({"styles": {"a": "bach"}, "style_balance": -1}, "style_balance"),
    ],
)
def test_data_styles_are_checked(data, words):
    from livegen.config import DataConfig
    from livegen.recipe import ConfigError, from_dict

    with pytest.raises(ConfigError, match=words):
        from_dict(DataConfig, data, "recipe.yaml", "data.")
